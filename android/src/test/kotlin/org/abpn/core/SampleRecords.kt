package org.abpn.core

import java.io.File

/**
 * Sample records built by the same code the phone runs: an all-ok run, an unsupported one and a
 * failed one. `main` writes them as JSON files for tests/test_kotlin_record.py, which validates them
 * against python/abpn/schema/result_record.schema.json.
 */
object SampleRecords {
    private val device = DeviceInfo(
        "Google", "Pixel 8 \"Pro\"", "Google", "Tensor G3", "zuma", "zuma", null, "15", 35, "arm64-v8a", 9,
    )
    private val model = ModelInfo(
        "abpn_x3_int8.tflite", "0".repeat(63) + "a", 61_440, listOf(1, 360, 640, 3), "uint8", listOf(1, 1080, 1920, 3), "uint8",
    )
    private val app = AppInfo("0.1.0", "tflite", "2.16.1")
    private const val T = 1795532400123L

    fun ok(): ResultRecord = ResultRecord(
        "0f8c2a4e-1b2c-4d5e-8f90-123456789abc", T, device, model, app,
        listOf(
            AcceleratorResult(
                Accelerator.CPU, linkedMapOf("threads" to 4, "xnnpack" to true), Status.OK,
                timing = Timing(41.5, 380.25, 3, listOf(350.0, 351.5, 349.75, 360.0)),
                delegation = Delegation(12, 12, "TFLite log: 12 of 12 node(s) replaced by delegate (TfLiteXNNPackDelegate)"),
                outputCheck = OutputCheck(null, 0, OutputCheck.THRESHOLD_DB),
            ),
            AcceleratorResult(
                Accelerator.GPU, linkedMapOf("precision_loss_allowed" to true, "backend" to "auto"), Status.OK,
                timing = Timing(900.0, 120.0, 3, listOf(30.0, 31.0)),
                delegation = Delegation(null, 12, "no 'Replacing' log line; median 30.50 ms vs CPU 350.75 ms (x0.09)"),
                outputCheck = OutputCheck.compare(byteArrayOf(1, 2, 3, 4), byteArrayOf(1, 2, 3, 9)),
            ),
            AcceleratorResult(
                Accelerator.NNAPI, linkedMapOf("use_nnapi_cpu" to false), Status.OK,
                notes = "NNAPI is deprecated from Android 15; measured because phones still ship it",
                timing = Timing(2000.0, 100.0, 0, listOf(95.0)),
            ),
        ),
        Conditions(31.5, 36.0, "battery", 10.0),
    )

    fun unsupported(): ResultRecord = ResultRecord(
        "1f8c2a4e-1b2c-4d5e-8f90-123456789abc", T, device.copy(socManufacturer = null, socModel = null, sdkInt = 29), model, app,
        listOf(
            AcceleratorResult.unsupported(Accelerator.QNN_HTP, linkedMapOf("backend" to "htp"), "this APK was built without the QNN runtime"),
            AcceleratorResult.unsupported(Accelerator.QNN_DSP, emptyMap(), "QNN reports no DSP runtime on this phone"),
        ),
        Conditions(null, null, null, 0.0),
    )

    fun failed(): ResultRecord = ResultRecord(
        "2f8c2a4e-1b2c-4d5e-8f90-123456789abc", T, device, model, app,
        listOf(
            AcceleratorResult.failed(
                Accelerator.GPU, linkedMapOf("threads" to 4),
                IllegalArgumentException("Internal error: Failed to apply delegate: \"quoted\"\n" + "x".repeat(3000), IllegalStateException("cause")),
            ),
        ),
        Conditions(30.0, 30.5, "battery", 0.0),
    )

    @JvmStatic
    fun main(args: Array<String>) {
        require(args.size == 1) { "usage: SampleRecords <output folder>" }
        val dir = File(args[0]).apply { mkdirs() }
        for ((name, record) in listOf("ok" to ok(), "unsupported" to unsupported(), "failed" to failed())) {
            File(dir, "$name.json").writeText(record.toJson())
        }
        File(dir, "error.json").writeText(ResultRecord.errorJson("0f8c2a4e-1b2c-4d5e-8f90-123456789abc", "missing extra 'model'"))
        println("wrote 3 sample records and 1 error file to $dir")
    }
}
