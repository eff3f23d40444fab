package org.abpn.app

import android.content.Context
import android.net.Uri
import org.abpn.core.AppInfo
import org.abpn.core.LoopSource
import org.abpn.core.ModelInfo
import org.abpn.core.ResultDelivery
import org.abpn.core.ResultRecord
import org.abpn.core.ResultsPath
import org.abpn.core.RunState
import org.abpn.core.TestLoop
import org.abpn.core.TestLoopRecord
import org.abpn.core.TfliteModelFile
import org.json.JSONObject
import java.io.File
import java.io.FileInputStream
import java.io.FileNotFoundException
import java.util.concurrent.CountDownLatch

/**
 * One game loop: the scenario's accelerators measured on the bundled model by the same run as
 * `push-and-bench` (RunRegistry.startOrAttach with the extras of docs/phone-protocol.md: one
 * process per accelerator, the same warm-up and timing rules, the phone's state, a crash costing
 * only its row), then the record with its `source`. Called on a background thread.
 */
class TestLoopRun(private val context: Context, private val kind: LoopSource, private val scenario: Int?) {
    private val app = context.applicationContext
    private val version = runCatching { app.packageManager.getPackageInfo(app.packageName, 0).versionName }.getOrNull() ?: "unknown"
    private val source = TestLoopRecord.source(kind, scenario, "${app.packageName} $version")

    /** The record's JSON; also kept in the results folder, where `content read` finds it as for any run. */
    fun execute(runId: String, progress: (String) -> Unit): String {
        val files = LoopAssets.source(app)
        val json = when (val plan = TestLoop.plan(scenario, QnnSupport.BUNDLED)) {
            is TestLoop.Plan.Refused -> refused(runId, files, plan.reason)
            is TestLoop.Plan.Run -> measure(runId, files, plan, progress)
        }
        ResultDelivery.writeAtomically(ResultFiles.resultsDir(app), ResultsPath.recordFile(runId), json)
        return json
    }

    private fun measure(runId: String, files: LoopFiles, plan: TestLoop.Plan.Run, progress: (String) -> Unit): String {
        val extras = mapOf<String, Any?>(
            "run_id" to runId, "model" to files.model.path, "input" to files.input.path, "expected" to files.expected.path,
            "accelerators" to plan.accelerators.joinToString(",") { it.id },
        )
        val done = CountDownLatch(1)
        val listener: (RunRegistry.Run) -> Unit = { r -> progress(r.progress); if (r.state != RunState.RUNNING) done.countDown() }
        val run = RunRegistry.startOrAttach(app, extras)
        run.observe(listener)
        // No deadline of our own: each accelerator has the runner's, and Test Lab's --timeout ends the loop in any case.
        done.await()
        run.forget(listener)
        val dir = ResultFiles.resultsDir(app)
        if (run.state == RunState.DONE) {
            val record = JSONObject(File(dir, ResultsPath.recordFile(runId)).readText())
            record.put("source", JSONObject(source))
            return record.toString()
        }
        val why = runCatching { JSONObject(File(dir, ResultsPath.errorFile(runId)).readText()).getString("error") }.getOrNull() ?: run.progress
        return refused(runId, files, "the benchmark did not run: $why")
    }

    private fun refused(runId: String, files: LoopFiles, reason: String): String {
        val mapped = ModelFile.map(files.model)
        val (input, output) = TfliteModelFile.io(mapped)
        val model = ModelInfo(
            files.model.name, ModelFile.sha256(FileInputStream(files.model)), files.model.length(),
            input.shape, input.dtype, output.shape, output.dtype,
        )
        // The runtime's version would load its native library in this process: not for a loop that measures nothing.
        val appInfo = AppInfo(version, Engines.factory.runtimeName, "unknown")
        val record = TestLoopRecord.refused(runId, System.currentTimeMillis(), DeviceProbe.deviceInfo(), model, appInfo, reason, source)
        return JSONObject(record).toString()
    }

    companion object {
        /**
         * Why the loop must not write to [uri], or null. The intent comes from outside the app, so it
         * must not be able to make the loop overwrite the app's own files or providers.
         */
        fun refusal(context: Context, uri: Uri): String? = when (uri.scheme) {
            "content" -> if (uri.authority?.startsWith(context.packageName) == true) "the loop does not write to this app's own provider ($uri)" else null
            "file" -> {
                val own = listOfNotNull(context.applicationInfo.dataDir, context.filesDir.parent, context.cacheDir.parent)
                    .map { File(it).canonicalPath + File.separator }
                val path = File(uri.path ?: "").canonicalPath
                if (own.any { path.startsWith(it) }) "the loop does not write into this app's private storage ($uri)" else null
            }
            else -> "the results URI must be content:// or file://, got $uri"
        }

        /** Test Lab's way, as its documentation and TFLite's benchmark app write the results file. */
        fun write(context: Context, uri: Uri, json: String) {
            refusal(context, uri)?.let { throw SecurityException(it) }
            val afd = context.contentResolver.openAssetFileDescriptor(uri, "w") ?: throw FileNotFoundException("no file behind $uri")
            afd.createOutputStream().use { it.write(json.toByteArray(Charsets.UTF_8)) }
        }

        fun errorJson(runId: String, message: String): String = ResultRecord.errorJson(runId, message)
    }
}
