package org.abpn.app

import android.content.Context
import android.os.Process
import android.util.Log
import org.abpn.core.BadRequestException
import org.abpn.core.BenchRequest
import org.abpn.core.ResultDelivery
import org.abpn.core.ResultRecord
import org.abpn.core.ResultsPath
import org.abpn.core.RunRow
import org.abpn.core.RunState
import java.io.File
import java.util.concurrent.CopyOnWriteArrayList

/**
 * The benchmark runs of this process, keyed by run_id. A run lives here, not in an Activity: a
 * recreated BenchmarkActivity (rotation) re-attaches to its run instead of starting it again or
 * losing it, and [ResultsProvider] reports each run's state to the host.
 */
object RunRegistry {
    class Run(val runId: String) {
        @Volatile var state = RunState.RUNNING
            private set
        @Volatile var progress = "starting"
            private set
        @Volatile var updatedMs = System.currentTimeMillis()
            private set
        private val listeners = CopyOnWriteArrayList<(Run) -> Unit>()

        fun row(): RunRow = RunRow(runId, state, Process.myPid(), progress, updatedMs)

        /** [listener] hears every change, and once right away with the current state. */
        fun observe(listener: (Run) -> Unit) { listeners.add(listener); listener(this) }

        fun forget(listener: (Run) -> Unit) { listeners.remove(listener) }

        internal fun update(state: RunState, progress: String) {
            this.state = state; this.progress = progress; updatedMs = System.currentTimeMillis()
            Log.i(ResultFiles.TAG, "$runId: ${state.id}: $progress")
            for (l in listeners) l(this)
        }
    }

    private val runs = LinkedHashMap<String, Run>()

    @Synchronized fun get(runId: String): Run? = runs[runId]

    /**
     * The run these extras ask for: the live or finished one of the same run_id when there is one,
     * else a new one, already registered as running when this returns (so the host's first query
     * after `am start -W` sees it). A run that ended in an error is started again.
     */
    @Synchronized fun startOrAttach(context: Context, extras: Map<String, Any?>): Run {
        val stem = BenchRequest.errorFileStem(extras)
        runs[stem]?.let { if (it.state != RunState.ERROR) return it }
        val run = Run(stem)
        runs[stem] = run
        val app = context.applicationContext
        val busy = runs.values.any { it !== run && it.state == RunState.RUNNING }
        if (busy) {
            fail(app, run, "another benchmark is still running on this phone")
            return run
        }
        val request = try {
            BenchRequest.parse(extras)
        } catch (e: BadRequestException) {
            fail(app, run, "bad request: ${e.message}")
            return run
        }
        Thread({ execute(app, run, request) }, "abpn-benchmark").start()
        return run
    }

    private fun execute(context: Context, run: Run, request: BenchRequest) {
        try {
            val record = BenchmarkRunner(context, request, { run.update(RunState.RUNNING, it) }).run()
            val json = record.toJson()
            ResultDelivery.writeAtomically(ResultFiles.resultsDir(context), ResultsPath.recordFile(request.runId), json)
            run.update(RunState.DONE, "record written")
            request.collectorUrl?.let { url ->
                // The stored record stays the record of truth whatever the collector answers.
                val posted = ResultDelivery.post(url, request.collectorToken, json)
                if (posted.accepted) Log.i(ResultFiles.TAG, "collector accepted the record (${posted.status})")
                else Log.w(ResultFiles.TAG, "collector did not take the record: ${posted.status} ${posted.message}")
            }
        } catch (e: RunCannotStart) {
            fail(context, run, "cannot start: ${e.message}")
        } catch (e: Throwable) {
            // On this thread an exception would kill the process and leave the host guessing.
            Log.e(ResultFiles.TAG, "benchmark crashed", e)
            fail(context, run, "unexpected error: $e")
        }
    }

    private fun fail(context: Context, run: Run, message: String) {
        try {
            ResultDelivery.writeAtomically(ResultFiles.resultsDir(context), ResultsPath.errorFile(run.runId), ResultRecord.errorJson(run.runId, message))
        } catch (e: Exception) {
            Log.e(ResultFiles.TAG, "cannot write ${run.runId}.error.json ($message)", e)
        }
        run.update(RunState.ERROR, message)
    }

    /**
     * The row for [runId]: this process's run, or, after the process was restarted, what its
     * files say. null when there is neither: the run never started or its process died first.
     */
    @Synchronized fun row(context: Context, runId: String): RunRow? {
        runs[runId]?.let { return it.row() }
        val dir = runCatching { ResultFiles.resultsDir(context) }.getOrNull() ?: return null
        val done = File(dir, ResultsPath.recordFile(runId))
        val error = File(dir, ResultsPath.errorFile(runId))
        return when {
            done.isFile -> RunRow(runId, RunState.DONE, Process.myPid(), "record written", done.lastModified())
            error.isFile -> RunRow(runId, RunState.ERROR, Process.myPid(), "see ${ResultsPath.errorFile(runId)}", error.lastModified())
            else -> null
        }
    }
}
