package org.abpn.app

import android.content.Context
import android.os.Process
import android.util.Log
import org.abpn.core.BadRequestException
import org.abpn.core.BenchRequest
import org.abpn.core.HostHandshake
import org.abpn.core.QuietWindow
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
 * losing it, and [ResultsProvider] reports each run's state to the host. Every change is also
 * saved ([RunStore]), so a process started again after the app died answers with the old pid.
 */
object RunRegistry {
    class Run(private val context: Context, val runId: String) : RunHooks {
        val startedMs = System.currentTimeMillis()
        val pid = Process.myPid()
        @Volatile var state = RunState.RUNNING
            private set
        @Volatile var progress = "starting"
            private set
        @Volatile var updatedMs = startedMs
            private set
        @Volatile var rowsDone = 0
            private set
        @Volatile var rowsTotal = 0
            private set
        @Volatile private var quietUntilMs: Long? = null
        @Volatile private var measuringNow = false
        private var hostCalls = 0
        private val handshake = HostHandshake(startedMs)
        private val lock = Object()
        private val listeners = CopyOnWriteArrayList<(Run) -> Unit>()

        /** The row the provider answers, noted as the host's latest look at the run. */
        fun answer(): RunRow {
            val now = System.currentTimeMillis()
            val quiet = if (state == RunState.RUNNING) quietUntilMs else null
            synchronized(lock) { handshake.answered(now, quiet); lock.notifyAll() }
            return RunRow(runId, state, pid, progress, updatedMs, Process.myPid(), now, quiet, rowsDone, rowsTotal, startedMs)
        }

        /** A provider call (query or read) arrived: counted when an accelerator is measuring. */
        fun hostCalled() {
            synchronized(lock) { if (measuringNow) hostCalls++ }
        }

        /** [listener] hears every change, and once right away with the current state. */
        fun observe(listener: (Run) -> Unit) { listeners.add(listener); listener(this) }

        fun forget(listener: (Run) -> Unit) { listeners.remove(listener) }

        internal fun begin(total: Int) {
            rowsTotal = total
            update(RunState.RUNNING, "starting")
        }

        internal fun update(state: RunState, progress: String) {
            this.state = state; this.progress = progress; updatedMs = System.currentTimeMillis()
            Log.i(ResultFiles.TAG, "$runId: ${state.id}: $progress")
            save()
            for (l in listeners) l(this)
        }

        private fun save() {
            try {
                RunStore.save(context, RunStore.Saved(runId, state, pid, progress, startedMs, updatedMs, rowsDone, rowsTotal))
            } catch (e: Exception) {
                Log.e(ResultFiles.TAG, "cannot save the state of $runId", e)
            }
        }

        override fun acceleratorStarts(budgetMs: Long, cooldownMs: Long) {
            synchronized(lock) {
                val now = System.currentTimeMillis()
                handshake.windowSet(now)
                // The host may be told this window only at its next look: measuring waits for that look.
                val hold = handshake.holdUntil()?.let { Math.max(0L, it - (now + cooldownMs)) } ?: 0L
                quietUntilMs = now + hold + budgetMs
            }
        }

        override fun holdForHost() {
            synchronized(lock) {
                while (true) {
                    val until = handshake.holdUntil() ?: return
                    val left = until - System.currentTimeMillis()
                    if (left <= 0) return
                    lock.wait(left)
                }
            }
        }

        override fun measuring(budgetMs: Long?) {
            synchronized(lock) {
                measuringNow = budgetMs != null
                // Never earlier than the window the host was told: it will not look before that anyway.
                if (budgetMs != null) quietUntilMs = Math.max(quietUntilMs ?: 0L, System.currentTimeMillis() + budgetMs)
            }
        }

        override fun hostCommandsDuringRuns(): Int = synchronized(lock) { hostCalls }

        override fun rowDone(record: ResultRecord, done: Int, total: Int) {
            // The record so far first: the host that gives up reads it, complete or not.
            ResultDelivery.writeAtomically(ResultFiles.resultsDir(context), ResultsPath.recordFile(runId), record.toJson())
            rowsDone = done; rowsTotal = total
            update(RunState.RUNNING, if (done < total) "$done of $total accelerators measured" else "all $total accelerators measured")
        }
    }

    private val runs = LinkedHashMap<String, Run>()

    @Synchronized fun get(runId: String): Run? = runs[runId]

    /** Forgets this process's runs, as the death of the process does (tests of a restarted app). */
    @Synchronized fun forgetAll() = runs.clear()

    /**
     * The run these extras ask for: the live or finished one of the same run_id when there is one,
     * else a new one, already registered as running when this returns (so the host's first query
     * after `am start -W` sees it). A run that ended in an error is started again.
     */
    @Synchronized fun startOrAttach(context: Context, extras: Map<String, Any?>): Run {
        val stem = BenchRequest.errorFileStem(extras)
        runs[stem]?.let { if (it.state != RunState.ERROR) return it }
        val app = context.applicationContext
        val run = Run(app, stem)
        runs[stem] = run
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
        run.begin(request.accelerators.size)
        run.acceleratorStarts(QuietWindow.budgetMs(0, request, null, null, request.acceleratorTimeoutS * 1000L), 0)
        Thread({ execute(app, run, request) }, "abpn-benchmark").start()
        return run
    }

    private fun execute(context: Context, run: Run, request: BenchRequest) {
        try {
            val record = BenchmarkRunner(context, request, { run.update(RunState.RUNNING, it) }, hooks = run).run()
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

    /** A provider call arrived: the measuring run counts it (PROTOCOL v3 §2). */
    @Synchronized fun hostCalled() {
        for (r in runs.values) r.hostCalled()
    }

    /**
     * The row for [runId]: this process's run; after the process was started again, what the run's
     * saved state says, with its old pid (the host sees pid != provider_pid while `running`: the app
     * died during the run); else what its files say. null when there is none of these: the run never
     * started.
     */
    @Synchronized fun row(context: Context, runId: String): RunRow? {
        runs[runId]?.let { return it.answer() }
        val me = Process.myPid()
        val now = System.currentTimeMillis()
        RunStore.load(context, runId)?.let { s ->
            return RunRow(runId, s.state, s.pid, s.progress, s.updatedMs, me, now, null, s.rowsDone, s.rowsTotal, s.startedMs)
        }
        val dir = runCatching { ResultFiles.resultsDir(context) }.getOrNull() ?: return null
        val done = File(dir, ResultsPath.recordFile(runId))
        val error = File(dir, ResultsPath.errorFile(runId))
        return when {
            done.isFile -> RunRow(runId, RunState.DONE, me, "record written", done.lastModified(), me, now, null, 0, 0, done.lastModified())
            error.isFile -> RunRow(runId, RunState.ERROR, me, "see ${ResultsPath.errorFile(runId)}", error.lastModified(), me, now, null, 0, 0, error.lastModified())
            else -> null
        }
    }
}
