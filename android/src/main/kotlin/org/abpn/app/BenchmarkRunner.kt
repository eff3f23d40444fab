package org.abpn.app

import android.content.Context
import android.content.pm.ApplicationInfo
import android.util.Log
import org.abpn.core.Accelerator
import org.abpn.core.AcceleratorConditions
import org.abpn.core.AcceleratorResult
import org.abpn.core.AppInfo
import org.abpn.core.BenchRequest
import org.abpn.core.Conditions
import org.abpn.core.Cooldown
import org.abpn.core.CrashLog
import org.abpn.core.ModelInfo
import org.abpn.core.QuietWindow
import org.abpn.core.ResultRecord
import org.abpn.core.Status
import org.abpn.core.TfliteModelFile
import org.abpn.core.VisibilityLog
import java.io.File
import java.io.FileInputStream

/** Raised when the run cannot start at all; becomes the `<run_id>.error.json` file. */
class RunCannotStart(message: String) : Exception(message)

/**
 * One benchmark run of docs/phone-protocol.md (v3), in the main process: checks the files, then
 * hands each accelerator to its own process ([AcceleratorClient]) with a cool-down before it and
 * the phone's state read before and after it. The main process never loads TFLite's native code,
 * so no accelerator can take the run down with it; a hung one is killed after
 * `accelerator_timeout_s`. After every row [hooks] gets the record so far.
 */
class BenchmarkRunner(
    private val context: Context,
    private val request: BenchRequest,
    private val progress: (String) -> Unit,
    private val client: AcceleratorClient = AcceleratorClient(context),
    private val hooks: RunHooks = RunHooks.NONE,
    private val visibility: VisibilityLog = Visibility.log,
) {
    private val debuggable = (context.applicationInfo.flags and ApplicationInfo.FLAG_DEBUGGABLE) != 0
    private val timeoutMs = request.acceleratorTimeoutS * 1000L

    fun run(): ResultRecord {
        val accelerators = request.accelerators
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
        val pages = DeviceProbe.pagePlan(context)
        // The main process loads TFLite (for its version) only where it certainly loads.
        val runtimeLoads = pages.unsupportedReason == null && pages.note == null

        var runtimeVersion: String? = null
        val results = ArrayList<AcceleratorResult>()
        var previous: AcceleratorResult? = null
        for ((i, acc) in accelerators.withIndex()) {
            val cooldownMs = if (i == 0) 0L else request.cooldownS * 1000L
            val measureBudget = QuietWindow.budgetMs(0, request, previous?.timing?.firstInferenceMs, previous?.timing?.initMs, timeoutMs)
            // The first accelerator's window is published by whoever started the run, before the host's first query.
            if (i > 0) hooks.acceleratorStarts(cooldownMs + measureBudget, cooldownMs)
            val waited = if (i == 0) 0.0 else {
                progress("cooling down before ${acc.id}")
                Cooldown.wait(request.cooldownS, request.cooldownMaxS, { DeviceProbe.phoneState(context) }, System::currentTimeMillis, Thread::sleep)
            }
            val before = DeviceProbe.phoneState(context)
            val row = if (pages.unsupportedReason != null) {
                AcceleratorResult.unsupported(acc, emptyMap(), pages.unsupportedReason)
            } else {
                hooks.holdForHost()
                progress("measuring ${acc.id} (${i + 1}/${accelerators.size})")
                val started = System.currentTimeMillis()
                hooks.measuring(measureBudget)
                val outcome = try {
                    client.measure(AcceleratorJob(request, acc, totalNodes, debuggable, pages.note), timeoutMs)
                } finally {
                    hooks.measuring(null)
                }
                when (outcome) {
                    is Outcome.Measured -> judged(outcome.result.also { runtimeVersion = runtimeVersion ?: outcome.runtimeVersion }, pages.note)
                    is Outcome.Died -> crashed(acc, outcome.pid, started)
                    is Outcome.TimedOut -> AcceleratorResult(acc, emptyMap(), Status.FAILED, reason = outcome.reason)
                    is Outcome.NoAnswer -> AcceleratorResult(acc, emptyMap(), Status.FAILED, reason = outcome.reason)
                }
            }
            val after = DeviceProbe.phoneState(context)
            Log.i(ResultFiles.TAG, "${acc.id}: ${row.status.id} ${row.reason ?: ""}")
            results.add(row.copy(conditions = AcceleratorConditions(before, after, waited)))
            if (row.timing != null) previous = row
            val left = accelerators.size - results.size
            hooks.rowDone(
                record(modelInfo, runtimeVersion, runtimeLoads, results,
                    if (left == 0) null else "${results.size} of ${accelerators.size} accelerators measured; the run is still going"),
                results.size, accelerators.size,
            )
        }
        return record(modelInfo, runtimeVersion, runtimeLoads, results, null)
    }

    private fun record(model: ModelInfo, runtimeVersion: String?, runtimeLoads: Boolean, results: List<AcceleratorResult>, incomplete: String?): ResultRecord {
        // The record-level temperatures are the first accelerator's "before" and the last one's "after".
        val tempBefore = results.firstOrNull()?.conditions?.before?.batteryTempC
        val tempAfter = results.lastOrNull()?.conditions?.after?.batteryTempC
        return ResultRecord(
            request.runId, System.currentTimeMillis(), DeviceProbe.deviceInfo(), model, appInfo(runtimeVersion, runtimeLoads), results.toList(),
            Conditions(
                tempBefore, tempAfter, if (tempBefore != null || tempAfter != null) "battery" else null, request.cooldownS.toDouble(),
                hooks.hostCommandsDuringRuns(),
            ),
            incomplete,
        )
    }

    /**
     * The measured row with what only the main process knows: whether the app stayed visible through
     * its timed runs (an invisible app's timings are invalid), and what a library that did not load
     * on 16 KB pages means.
     */
    private fun judged(row: AcceleratorResult, pageNote: String?): AcceleratorResult {
        val p = row.process
        val visible = if (p?.timedFromMs != null && p.timedToMs != null) visibility.visibleThroughout(p.timedFromMs, p.timedToMs) else null
        var r = if (p != null) row.copy(process = p.copy(visibleThroughout = visible)) else row
        if (visible == false && r.status.timed) {
            val why = "the app was not visible during the timed runs (the benchmark activity was stopped: screen off, " +
                "HOME or another app): Android may freeze or throttle cached apps"
            r = r.copy(status = Status.INVALID, reason = listOfNotNull(why, r.reason).joinToString("; "))
        }
        if (pageNote != null && r.status == Status.FAILED && r.reason?.contains("UnsatisfiedLinkError") == true) {
            r = r.copy(status = Status.UNSUPPORTED, reason = "${r.reason} (16 KB pages: Android 16's backcompat mode did not load this APK's 4 KB-aligned TFLite)")
        }
        return r
    }

    private fun crashed(acc: Accelerator, pid: Int?, sinceMs: Long): AcceleratorResult {
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
        // Asking the runtime here loads its native library in the main process: only when it is known to load.
        val runtime = reportedRuntime ?: if (runtimeLoads) runCatching { Engines.factory.runtimeVersion() }.getOrNull() else null
        return AppInfo(version, Engines.factory.runtimeName, runtime ?: "unknown")
    }

    companion object {
        const val CRASH_SETTLE_MS = 500L
    }
}
