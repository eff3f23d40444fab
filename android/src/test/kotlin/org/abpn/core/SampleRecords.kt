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
                delegation = Delegation(12, 12, null, "TFLite log: 12 of 12 node(s) replaced by delegate (TfLiteXNNPackDelegate)", true),
                outputCheck = OutputCheck(null, 0, OutputCheck.THRESHOLD_DB),
                conditions = AcceleratorConditions(cool, warm, 0.0),
                memory = MemoryInfo(180_224L * 1024, 212_480L * 1024, ProcFiles.STATUS),
                process = ProcessInfo("4:cpuset:/top-app\n0::/uid_10234/pid_8123", "/top-app", null, true, 8123, 1795532400000, 1795532401000),
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
        Conditions(31.5, 36.0, "battery", 10.0, 0),
    )

    /**
     * A record written after its second row while the run goes on: a row timed while the app was not
     * visible (invalid), a hung accelerator killed after its timeout, a GPU whose log was muted.
     */
    fun partial(): ResultRecord = ResultRecord(
        "3f8c2a4e-1b2c-4d5e-8f90-123456789abc", T, device, model, app,
        listOf(
            AcceleratorResult(
                Accelerator.GPU, linkedMapOf("inference_preference" to "fast_single_answer", "compatibility_list" to false), Status.INVALID,
                reason = "the app was not visible during the timed runs (the benchmark activity was stopped): Android may freeze or throttle cached apps",
                timing = Timing(1.5, 900.0, 40.0, 3, 510.0, listOf(31.0, 90.0), listOf(33.0, 95.0), 500, 1000),
                delegation = DelegationLog.summarize(Accelerator.GPU, emptyList(), 12, logReadable = false),
                process = ProcessInfo(null, null, "cannot read /proc/self/cgroup: java.io.FileNotFoundException", false, 9001),
                memory = MemoryInfo(null, 300_000_000, ProcFiles.STATUS),
            ),
            AcceleratorResult(Accelerator.NNAPI, emptyMap(), Status.FAILED, reason = "timed out after 120 s (the accelerator's process was killed)"),
        ),
        Conditions(31.0, 33.0, "battery", 0.0, 2),
        incompleteReason = "2 of 3 accelerators measured; the run is still going",
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
        for ((name, record) in listOf("ok" to ok(), "unsupported" to unsupported(), "failed" to failed(), "partial" to partial())) {
            File(dir, "$name.json").writeText(record.toJson())
        }
        File(dir, "error.json").writeText(ResultRecord.errorJson("0f8c2a4e-1b2c-4d5e-8f90-123456789abc", "missing extra 'model'"))
        println("wrote 4 sample records and 1 error file to $dir")
    }
}
