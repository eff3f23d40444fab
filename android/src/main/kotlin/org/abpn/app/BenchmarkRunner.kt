package org.abpn.app

import android.content.Context
import android.content.pm.ApplicationInfo
import android.util.Log
import org.abpn.core.AcceleratorConditions
import org.abpn.core.AcceleratorResult
import org.abpn.core.AppInfo
import org.abpn.core.BenchRequest
import org.abpn.core.Conditions
import org.abpn.core.Cooldown
import org.abpn.core.CrashLog
import org.abpn.core.ModelInfo
import org.abpn.core.ResultRecord
import org.abpn.core.Status
import org.abpn.core.TfliteModelFile
import java.io.File
import java.io.FileInputStream

/** Raised when the run cannot start at all; becomes the `<run_id>.error.json` file. */
class RunCannotStart(message: String) : Exception(message)

/**
 * One benchmark run of docs/phone-protocol.md (v2), in the main process: checks the files, then
 * hands each accelerator to its own process ([AcceleratorClient]) with a cool-down before it and
 * the phone's state read before and after it. The main process never loads TFLite's native code,
 * so no accelerator can take the run down with it.
 */
class BenchmarkRunner(
    private val context: Context,
    private val request: BenchRequest,
    private val progress: (String) -> Unit,
    private val client: AcceleratorClient = AcceleratorClient(context),
) {
    private val debuggable = (context.applicationInfo.flags and ApplicationInfo.FLAG_DEBUGGABLE) != 0

    fun run(): ResultRecord {
        val modelFile = File(request.modelPath)
        if (!modelFile.canRead()) throw RunCannotStart("cannot read the model ${request.modelPath} (push it with mode 0644)")
        val mapped = ModelFile.map(modelFile)
        val (input, output) = try {
            TfliteModelFile.io(mapped)
        } catch (e: IllegalArgumentException) {
            throw RunCannotStart("${modelFile.path} is not a model the benchmark can run: ${e.message}")
        }
        val inputBytes = input.bytes ?: throw RunCannotStart("the model's input ${input.shape} ${input.dtype} has no fixed size")
        val outputBytes = output.bytes ?: throw RunCannotStart("the model's output ${output.shape} ${output.dtype} has no fixed size")
        checkSize(request.inputPath, "input", inputBytes)
        request.expectedPath?.let { checkSize(it, "expected", outputBytes) }
        val totalNodes = runCatching { TfliteModelFile.mainSubgraphOperatorCount(mapped) }.getOrNull()
        val modelInfo = ModelInfo(
            modelFile.name, ModelFile.sha256(FileInputStream(modelFile)), modelFile.length(),
            input.shape, input.dtype, output.shape, output.dtype,
        )
        val pageProblem = DeviceProbe.pageSizeProblem(context)

        var runtimeVersion: String? = null
        val results = ArrayList<AcceleratorResult>()
        for ((i, acc) in request.accelerators.withIndex()) {
            val waited = if (i == 0) 0.0 else {
                progress("cooling down before ${acc.id}")
                Cooldown.wait(request.cooldownS, request.cooldownMaxS, { DeviceProbe.phoneState(context) }, System::currentTimeMillis, Thread::sleep)
            }
            progress("measuring ${acc.id} (${i + 1}/${request.accelerators.size})")
            val before = DeviceProbe.phoneState(context)
            val row = if (pageProblem != null) {
                AcceleratorResult.unsupported(acc, emptyMap(), pageProblem)
            } else {
                val started = System.currentTimeMillis()
                when (val o = client.measure(AcceleratorJob(request, acc, totalNodes, debuggable), TIMEOUT_MS)) {
                    is Outcome.Measured -> o.result.also { runtimeVersion = runtimeVersion ?: o.runtimeVersion }
                    is Outcome.Died -> crashed(acc, o.pid, started)
                    is Outcome.NoAnswer -> AcceleratorResult(acc, emptyMap(), Status.FAILED, reason = o.reason)
                }
            }
            val after = DeviceProbe.phoneState(context)
            Log.i(ResultFiles.TAG, "${acc.id}: ${row.status.id} ${row.reason ?: ""}")
            results.add(row.copy(conditions = AcceleratorConditions(before, after, waited)))
        }
        // The record-level temperatures are the first accelerator's "before" and the last one's "after".
        val tempBefore = results.first().conditions?.before?.batteryTempC
        val tempAfter = results.last().conditions?.after?.batteryTempC
        return ResultRecord(
            request.runId, System.currentTimeMillis(), DeviceProbe.deviceInfo(), modelInfo, appInfo(runtimeVersion, pageProblem == null), results,
            Conditions(tempBefore, tempAfter, if (tempBefore != null || tempAfter != null) "battery" else null, request.cooldownS.toDouble()),
        )
    }

    private fun crashed(acc: org.abpn.core.Accelerator, pid: Int?, sinceMs: Long): AcceleratorResult {
        // crash_dump has logged the tombstone by the time the process is gone; the exit record may lag a little.
        Thread.sleep(CRASH_SETTLE_MS)
        val signal = pid?.let { DeviceProbe.exitSignal(context, it) }
        val crash = CrashLog.parse(if (pid != null) DeviceProbe.crashLogLines() else emptyList(), pid ?: -1, sinceMs, signal)
        return AcceleratorResult.crashed(acc, emptyMap(), crash)
    }

    private fun checkSize(path: String, what: String, size: Int) {
        val f = File(path)
        if (!f.canRead()) throw RunCannotStart("cannot read the $what file $path (push it with mode 0644)")
        if (f.length() != size.toLong()) throw RunCannotStart("the $what file $path has ${f.length()} bytes, the model's tensor needs $size")
    }

    private fun appInfo(reportedRuntime: String?, runtimeLoads: Boolean): AppInfo {
        val version = context.packageManager.getPackageInfo(context.packageName, 0).versionName ?: "unknown"
        // Asking the runtime here loads its native library in the main process: only when it can load.
        val runtime = reportedRuntime ?: if (runtimeLoads) runCatching { Engines.factory.runtimeVersion() }.getOrNull() else null
        return AppInfo(version, Engines.factory.runtimeName, runtime ?: "unknown")
    }

    companion object {
        /** benchmark_model's 150 s cap for each of the warm-up and timed phases, plus creation and the first run. */
        const val TIMEOUT_MS = 10 * 60 * 1000L
        const val CRASH_SETTLE_MS = 500L
    }
}
