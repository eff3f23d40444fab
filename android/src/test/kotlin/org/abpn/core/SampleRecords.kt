package org.abpn.core

import java.io.File

/**
 * Sample records built by the same code the phone runs: an ok run (with a partial delegation and a
 * not_delegated row), an unsupported one and a failed one (an exception and a native crash). `main`
 * writes them as JSON files for android/offline/validate_records.py and tests/test_kotlin_record.py,
 * which validate them against python/abpn/record/schema/result_record.schema.json.
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

    val cool = PhoneState(true, false, 81, true, false, 0, 0.42, 31.5)
    private val warm = PhoneState(true, false, 80, true, false, 2, 0.95, 36.0)
    private val old = PhoneState(true, false, 55, false, null, null, null, 30.0)

    fun ok(): ResultRecord = ResultRecord(
        "0f8c2a4e-1b2c-4d5e-8f90-123456789abc", T, device, model, app,
        listOf(
            AcceleratorResult(
                Accelerator.CPU, linkedMapOf("threads" to 4, "xnnpack" to true), Status.OK,
                timing = Timing(0.0, 41.5, 380.25, 3, 1051.0, listOf(350.0, 351.5, 349.75, 360.0), listOf(352.0, 353.5, 351.0, 362.5), 500, 1000),
                delegation = Delegation(12, 12, null, "TFLite log: 12 of 12 node(s) replaced by delegate (TfLiteXNNPackDelegate)"),
                outputCheck = OutputCheck(null, 0, OutputCheck.THRESHOLD_DB),
                conditions = AcceleratorConditions(cool, warm, 0.0),
            ),
            AcceleratorResult(
                Accelerator.GPU, linkedMapOf("gpu_backend" to "opencl", "fallback" to "xnnpack", "require_full_delegation" to false), Status.OK,
                timing = Timing(120.5, 779.5, 120.0, 3, 505.0, listOf(30.0, 31.0), listOf(34.0, 35.5), 500, 1000),
                delegation = Delegation(10, 12, "xnnpack", "TFLite log: 10 of 12 node(s) replaced by delegate (TfLiteGpuDelegateV2)"),
                outputCheck = OutputCheck.compare(byteArrayOf(1, 2, 3, 4), byteArrayOf(1, 2, 3, 9)),
                conditions = AcceleratorConditions(cool, warm, 42.5),
            ),
            AcceleratorResult(
                Accelerator.NNAPI, linkedMapOf("nnapi_accelerator" to "qti-htp", "fallback" to "xnnpack"), Status.NOT_DELEGATED,
                reason = "the nnapi delegate took 0 of 12 nodes: everything ran on the CPU (XNNPACK)",
                notes = "NNAPI is deprecated from Android 15; measured because phones still ship it",
                timing = Timing(3.0, 2000.0, 100.0, 0, 0.0, listOf(95.0), listOf(96.0), 0, 0),
                delegation = Delegation(0, 12, "xnnpack", "TFLite log: 0 of 12 node(s) replaced by delegate (TfLiteNnapiDelegate)"),
                conditions = AcceleratorConditions(old, old, 60.0),
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
            ).copy(conditions = AcceleratorConditions(cool, cool, 0.0)),
            AcceleratorResult.crashed(
                Accelerator.NNAPI, linkedMapOf("nnapi_accelerator" to "qti-htp"),
                Crash(11, "SIGSEGV", listOf("libc: Fatal signal 11 (SIGSEGV), code 1 (SEGV_MAPERR), fault addr 0x0", "DEBUG: #00 pc 0000000000012345  /vendor/lib64/libfoo.so")),
            ).copy(conditions = AcceleratorConditions(cool, cool, 3.0)),
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
