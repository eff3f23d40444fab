package org.abpn.core

import java.text.SimpleDateFormat
import java.util.Date
import java.util.Locale
import java.util.TimeZone

// The result record of python/abpn/record/schema/result_record.schema.json, schema_version 3
// (docs/phone-protocol.md). Results cross from the accelerator process to the main process as
// Java-serialized objects, hence Serializable.
// Strings are clipped to the schema's lengths here so a long exception message can never make
// the whole record invalid.

private const val TEXT_MAX = 200
private const val REASON_MAX = 2000

internal fun clip(s: String?, max: Int): String? = if (s == null || s.length <= max) s else s.substring(0, max - 1) + "…"

data class DeviceInfo(
    val manufacturer: String?,
    val model: String?,
    val socManufacturer: String?,
    val socModel: String?,
    val boardPlatform: String?,
    val hardware: String?,
    val chipsetName: String?,
    val androidRelease: String?,
    val sdkInt: Int?,
    val abi: String?,
    val cpuCount: Int?,
) {
    fun toJsonMap(): Map<String, Any?> = linkedMapOf(
        "kind" to "phone",
        "manufacturer" to clip(manufacturer, TEXT_MAX),
        "model" to clip(model, TEXT_MAX),
        "soc_manufacturer" to clip(socManufacturer, TEXT_MAX),
        "soc_model" to clip(socModel, TEXT_MAX),
        "board_platform" to clip(boardPlatform, TEXT_MAX),
        "hardware" to clip(hardware, TEXT_MAX),
        "chipset_name" to clip(chipsetName, TEXT_MAX),
        "android_release" to clip(androidRelease, TEXT_MAX),
        "sdk_int" to sdkInt,
        "abi" to clip(abi, TEXT_MAX),
        "cpu_count" to cpuCount,
    )
}

data class ModelInfo(
    val fileName: String,
    val sha256: String,
    val sizeBytes: Long,
    val inputShape: List<Int>,
    val inputDtype: String,
    val outputShape: List<Int>,
    val outputDtype: String,
) {
    fun toJsonMap(): Map<String, Any?> = linkedMapOf(
        "file_name" to clip(fileName, 255),
        "sha256" to sha256,
        "size_bytes" to sizeBytes,
        "input_shape" to inputShape,
        "input_dtype" to inputDtype,
        "output_shape" to outputShape,
        "output_dtype" to outputDtype,
    )
}

data class AppInfo(val version: String, val runtime: String, val runtimeVersion: String) {
    fun toJsonMap(): Map<String, Any?> = linkedMapOf(
        "name" to NAME,
        "version" to clip(version, TEXT_MAX),
        "runtime" to clip(runtime, TEXT_MAX),
        "runtime_version" to clip(runtimeVersion, TEXT_MAX),
    )

    companion object { const val NAME = "abpn-android" }
}

/**
 * not_delegated: the delegate was created but took no node, so the row measured the CPU.
 * invalid: timed, but under conditions that make the numbers meaningless (the app was not visible).
 */
enum class Status(val id: String) {
    OK("ok"), NOT_DELEGATED("not_delegated"), UNSUPPORTED("unsupported"), FAILED("failed"), INVALID("invalid");

    /** Rows that carry timings. */
    val timed: Boolean get() = this == OK || this == NOT_DELEGATED || this == INVALID
}

/**
 * Timings of one accelerator that ran to the end, in benchmark_model's terms: init includes the
 * delegate's creation (BenchmarkTfLiteModel::Init), samples are the runtime's invoke time only
 * (Interpreter.getLastNativeInferenceDurationNanoseconds), wall samples the whole run() call with
 * its input and output copies.
 */
data class Timing(
    val delegateCreateMs: Double,
    val interpreterCreateMs: Double,
    val firstInferenceMs: Double,
    val warmupRuns: Int,
    val warmupMs: Double,
    val samplesMs: List<Double>,
    val wallSamplesMs: List<Double>,
    val warmupMinMs: Int?,
    val runMinMs: Int?,
) : java.io.Serializable {
    init {
        require(samplesMs.isNotEmpty() && samplesMs.size == wallSamplesMs.size) { "one native and one wall sample per timed run" }
    }

    val initMs: Double get() = delegateCreateMs + interpreterCreateMs

    /** The schema's `timing` object; the v1 fields (init_ms, samples_ms, ...) stay on the result itself. */
    fun toJsonMap(): Map<String, Any?> = linkedMapOf(
        "delegate_create_ms" to delegateCreateMs,
        "interpreter_create_ms" to interpreterCreateMs,
        "warmup_ms" to warmupMs,
        "wall_samples_ms" to wallSamplesMs,
        "wall_latency_ms" to LatencyStats.of(wallSamplesMs).toJsonMap(),
        "warmup_min_ms" to warmupMinMs,
        "run_min_ms" to runMinMs,
    )
}

data class AcceleratorResult(
    val accelerator: Accelerator,
    val options: Map<String, Any?>,
    val status: Status,
    val reason: String? = null,
    val notes: String? = null,
    val timing: Timing? = null,
    val delegation: Delegation? = null,
    val outputCheck: OutputCheck? = null,
    val conditions: AcceleratorConditions? = null,
    val crash: Crash? = null,
    val memory: MemoryInfo? = null,
    val process: ProcessInfo? = null,
) : java.io.Serializable {
    init {
        require(!status.timed || timing != null) { "a ${status.id} result needs its timings" }
        require(status == Status.OK || !reason.isNullOrEmpty()) { "a ${status.id} result needs a reason" }
        for ((k, v) in options) {
            require(OPTION_KEY.matches(k)) { "option name '$k' does not match ${OPTION_KEY.pattern}" }
            require(v == null || v is String || v is Number || v is Boolean) { "option '$k' has a non-scalar value" }
        }
        require(options.size <= 32) { "at most 32 options" }
    }

    fun toJsonMap(): Map<String, Any?> {
        val m = linkedMapOf<String, Any?>(
            "accelerator" to accelerator.id,
            "options" to options.mapValues { (_, v) -> if (v is String) clip(v, TEXT_MAX) else v },
            "status" to status.id,
            "reason" to clip(reason, REASON_MAX),
            "notes" to clip(notes, REASON_MAX),
        )
        timing?.let {
            m["init_ms"] = it.initMs
            m["first_inference_ms"] = it.firstInferenceMs
            m["warmup_runs"] = it.warmupRuns
            m["runs"] = it.samplesMs.size
            // The headline is the native invoke time, as benchmark_model reports; timing's wall stats add the copies.
            m["latency_ms"] = LatencyStats.of(it.samplesMs).toJsonMap()
            m["samples_ms"] = it.samplesMs
            m["timing"] = it.toJsonMap()
        }
        delegation?.let { m["delegation"] = it.toJsonMap() }
        outputCheck?.let { m["output_check"] = it.toJsonMap() }
        conditions?.let { m["conditions"] = it.toJsonMap() }
        crash?.let { m["crash"] = it.toJsonMap() }
        memory?.let { m["memory"] = it.toJsonMap() }
        process?.let { m["process"] = it.toJsonMap() }
        return m
    }

    companion object {
        private val OPTION_KEY = Regex("^[a-z][a-z0-9_]{0,63}$")

        fun unsupported(accelerator: Accelerator, options: Map<String, Any?>, reason: String, notes: String? = null) =
            AcceleratorResult(accelerator, options, Status.UNSUPPORTED, reason = reason, notes = notes)

        fun failed(accelerator: Accelerator, options: Map<String, Any?>, error: Throwable, notes: String? = null) =
            AcceleratorResult(accelerator, options, Status.FAILED, reason = describe(error), notes = notes)

        fun crashed(accelerator: Accelerator, options: Map<String, Any?>, crash: Crash) =
            AcceleratorResult(accelerator, options, Status.FAILED, reason = crash.reason(accelerator), crash = crash)

        /** "ClassName: message", with the causes, so a native failure keeps its words. */
        fun describe(error: Throwable): String {
            val parts = ArrayList<String>()
            var e: Throwable? = error
            while (e != null && parts.size < 4) {
                parts.add(e.javaClass.simpleName + (e.message?.let { ": $it" } ?: ""))
                e = e.cause?.takeIf { it !== e }
            }
            return parts.joinToString(" <- caused by ")
        }
    }
}

/**
 * The run as a whole: the battery temperature before the first and after the last accelerator, the
 * fixed cool-down asked for, and how many host commands (provider calls) arrived while an
 * accelerator measured (null when nobody counted).
 */
data class Conditions(
    val temperatureBeforeC: Double?,
    val temperatureAfterC: Double?,
    val temperatureSource: String?,
    val cooldownS: Double?,
    val hostCommandsDuringRuns: Int? = null,
) {
    fun toJsonMap(): Map<String, Any?> = linkedMapOf(
        "temperature_before_c" to temperatureBeforeC,
        "temperature_after_c" to temperatureAfterC,
        "temperature_source" to clip(temperatureSource, TEXT_MAX),
        "cooldown_s" to cooldownS,
        "host_commands_during_runs" to hostCommandsDuringRuns,
    )
}

data class ResultRecord(
    val runId: String,
    val createdAtMillis: Long,
    val device: DeviceInfo,
    val model: ModelInfo,
    val app: AppInfo,
    val results: List<AcceleratorResult>,
    val conditions: Conditions,
    /** null: complete (the field is left out); else why the record is partial (the rows present are final). */
    val incompleteReason: String? = null,
) {
    init {
        require(results.size in (if (incompleteReason == null) 1 else 0)..16) { "a record holds 1..16 results, got ${results.size}" }
    }

    fun toJsonMap(): Map<String, Any?> = linkedMapOf<String, Any?>(
        "schema_version" to SCHEMA_VERSION,
        "run_id" to runId,
        "created_at" to rfc3339(createdAtMillis),
        "device" to device.toJsonMap(),
        "model" to model.toJsonMap(),
        "app" to app.toJsonMap(),
        "results" to results.map { it.toJsonMap() },
        "conditions" to conditions.toJsonMap(),
    ).also { m ->
        if (incompleteReason != null) {
            m["complete"] = false
            m["incomplete_reason"] = clip(incompleteReason, REASON_MAX)
        }
    }

    fun toJson(): String = Json.encode(toJsonMap())

    companion object {
        const val SCHEMA_VERSION = 3

        fun rfc3339(millis: Long): String {
            val f = SimpleDateFormat("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'", Locale.US)
            f.timeZone = TimeZone.getTimeZone("UTC")
            return f.format(Date(millis))
        }

        /** The record-less error file of docs/phone-protocol.md. */
        fun errorJson(runId: String, message: String): String =
            Json.encode(linkedMapOf("run_id" to runId, "error" to clip(message, REASON_MAX)))
    }
}

/** Memory of the process that measured, in bytes (VmRSS before the interpreter, VmHWM after the timed runs). */
data class MemoryInfo(val rssBeforeBytes: Long?, val peakRssBytes: Long?, val source: String?) : java.io.Serializable {
    fun toJsonMap(): Map<String, Any?> = linkedMapOf(
        "rss_before_bytes" to rssBeforeBytes,
        "peak_rss_bytes" to peakRssBytes,
        "source" to clip(source, TEXT_MAX),
    )
}

/**
 * The process that measured: its cgroups as read during the timed runs (or why they could not be
 * read), whether the app stayed visible meanwhile, its pid. [timedFromMs]..[timedToMs] (epoch ms) is
 * the timed phase, which the main process compares with the activity's visibility; not in the record.
 */
data class ProcessInfo(
    val cgroup: String?,
    val cpuset: String?,
    val unreadableReason: String?,
    val visibleThroughout: Boolean?,
    val pid: Int?,
    val timedFromMs: Long? = null,
    val timedToMs: Long? = null,
) : java.io.Serializable {
    fun toJsonMap(): Map<String, Any?> = linkedMapOf(
        "cgroup" to clip(cgroup, REASON_MAX),
        "cpuset" to clip(cpuset, TEXT_MAX),
        "unreadable_reason" to clip(unreadableReason, 500),
        "visible_throughout" to visibleThroughout,
        "pid" to pid?.takeIf { it > 0 },
    )
}
