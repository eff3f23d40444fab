package org.abpn.core

/**
 * The paths the results provider (authority org.abpn.app.results) serves: `runs/<run_id>` (the
 * run's state row), `runs/<run_id>.json` (the record) and `runs/<run_id>.error.json` (why the run
 * could not start). Anything else, including a run_id that is not a safe file name, is no path.
 */
sealed class ResultsPath {
    abstract val runId: String

    data class State(override val runId: String) : ResultsPath()
    data class Record(override val runId: String) : ResultsPath()
    data class Error(override val runId: String) : ResultsPath()

    /** The file in the results folder, for [Record] and [Error]. */
    val fileName: String? get() = when (this) {
        is State -> null
        is Record -> recordFile(runId)
        is Error -> errorFile(runId)
    }

    companion object {
        /** A run_id that is safe as a file name. */
        val RUN_ID = Regex("^[A-Za-z0-9_-]{1,100}$")

        fun recordFile(runId: String) = "$runId.json"

        fun errorFile(runId: String) = "$runId.error.json"

        fun parse(segments: List<String>): ResultsPath? {
            if (segments.size != 2 || segments[0] != "runs") return null
            val last = segments[1]
            val (id, make) = when {
                last.endsWith(".error.json") -> last.removeSuffix(".error.json") to ::Error
                last.endsWith(".json") -> last.removeSuffix(".json") to ::Record
                else -> last to ::State
            }
            return if (RUN_ID.matches(id)) make(id) else null
        }
    }
}

/** States of a run as the provider's row reports them. */
enum class RunState(val id: String) { RUNNING("running"), DONE("done"), ERROR("error") }

/**
 * The provider's row (PROTOCOL v3, docs/phone-protocol.md): `run_id, state, pid, progress,
 * updated_ms, provider_pid, now_ms, quiet_until_ms, rows_done, rows_total, started_ms`. [pid] is the
 * main process that runs (or ran) the run, [providerPid] the one answering: they differ while
 * `running` when the app died and the provider call started it again. [quietUntilMs] (phone epoch
 * ms, null when nothing measures) is when the host may next run a command on the phone.
 */
data class RunRow(
    val runId: String,
    val state: RunState,
    val pid: Int,
    val progress: String,
    val updatedMs: Long,
    val providerPid: Int,
    val nowMs: Long,
    val quietUntilMs: Long?,
    val rowsDone: Int,
    val rowsTotal: Int,
    val startedMs: Long,
) {
    companion object {
        val COLUMNS = listOf(
            "run_id", "state", "pid", "progress", "updated_ms",
            "provider_pid", "now_ms", "quiet_until_ms", "rows_done", "rows_total", "started_ms",
        )
    }

    fun values(): List<Any?> = listOf(
        runId, state.id, pid, progress, updatedMs, providerPid, nowMs, quietUntilMs, rowsDone, rowsTotal, startedMs,
    )
}
