package org.abpn.app

import android.app.Activity
import android.os.Bundle
import android.util.Log
import android.view.WindowManager
import android.widget.TextView
import org.abpn.core.BadRequestException
import org.abpn.core.BenchRequest
import org.abpn.core.ResultDelivery
import org.abpn.core.ResultRecord
import java.io.File
import java.io.IOException
import java.util.concurrent.atomic.AtomicBoolean

/**
 * Started by the host with `am start -n org.abpn.app/.BenchmarkActivity` and the extras of
 * docs/phone-protocol.md. Writes `results/<run_id>.json` (or `<run_id>.error.json`) atomically.
 */
class BenchmarkActivity : Activity() {
    private lateinit var statusView: TextView

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        statusView = TextView(this).apply { textSize = 18f; setPadding(32, 32, 32, 32) }
        setContentView(statusView)
        // A recreated activity (e.g. after a configuration change) must not start the run twice.
        if (savedInstanceState != null) return
        window.addFlags(WindowManager.LayoutParams.FLAG_KEEP_SCREEN_ON)
        val extras = intent.extras?.let { b -> b.keySet().associateWith { k -> @Suppress("DEPRECATION") b.get(k) } } ?: emptyMap()
        Thread({ runBenchmark(extras) }, "abpn-benchmark").start()
    }

    private fun show(text: String) {
        Log.i(ResultFiles.TAG, text)
        runOnUiThread { statusView.text = text }
    }

    private fun runBenchmark(extras: Map<String, Any?>) {
        val dir = try {
            ResultFiles.resultsDir(this)
        } catch (e: Exception) {
            show("cannot create the result folder: $e"); return
        }
        val stem = BenchRequest.errorFileStem(extras)
        if (!running.compareAndSet(false, true)) {
            writeError(dir, stem, "another benchmark is still running on this phone")
            show("another benchmark is still running"); return
        }
        try {
            val request = BenchRequest.parse(extras)
            val record = BenchmarkRunner(this, request, ::show).run()
            val json = record.toJson()
            val file = ResultDelivery.writeAtomically(dir, "${request.runId}.json", json)
            show("done: ${file.path}")
            request.collectorUrl?.let { url ->
                // The file stays the record of truth whatever the collector answers.
                val posted = ResultDelivery.post(url, request.collectorToken, json)
                if (posted.accepted) Log.i(ResultFiles.TAG, "collector accepted the record (${posted.status})")
                else Log.w(ResultFiles.TAG, "collector did not take the record: ${posted.status} ${posted.message}")
            }
        } catch (e: BadRequestException) {
            writeError(dir, stem, e.message ?: "bad request")
            show("bad request: ${e.message}")
        } catch (e: RunCannotStart) {
            writeError(dir, stem, e.message ?: "cannot start")
            show("cannot start: ${e.message}")
        } catch (e: Throwable) {
            Log.e(ResultFiles.TAG, "benchmark crashed", e)
            writeError(dir, stem, "unexpected error: $e")
            show("unexpected error: $e")
        } finally {
            running.set(false)
            runOnUiThread { window.clearFlags(WindowManager.LayoutParams.FLAG_KEEP_SCREEN_ON) }
        }
    }

    /** Runs on the benchmark thread, where an exception would kill the process: log it instead. */
    private fun writeError(dir: File, stem: String, message: String) {
        try {
            ResultDelivery.writeAtomically(dir, "$stem.error.json", ResultRecord.errorJson(stem, message))
        } catch (e: IOException) {
            Log.e(ResultFiles.TAG, "cannot write $stem.error.json ($message)", e)
        }
    }

    companion object {
        /** One run at a time per process: two runs in parallel would distort each other's timings. */
        private val running = AtomicBoolean(false)
    }
}
