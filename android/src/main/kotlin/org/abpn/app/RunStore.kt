package org.abpn.app

import android.content.Context
import org.abpn.core.Json
import org.abpn.core.ResultDelivery
import org.abpn.core.RunState
import org.json.JSONObject
import java.io.File
import java.io.IOException

/**
 * The run's registry entry on disk (`filesDir/runs/<run_id>.state.json`, written atomically on
 * every change): a process that Android started again (the host's next `content` call restarts a
 * dead app through its provider) still knows the run, its old pid and how far it got.
 */
object RunStore {
    data class Saved(
        val runId: String,
        val state: RunState,
        val pid: Int,
        val progress: String,
        val startedMs: Long,
        val updatedMs: Long,
        val rowsDone: Int,
        val rowsTotal: Int,
    )

    private fun dir(context: Context): File =
        File(context.filesDir, "runs").apply { if (!isDirectory && !mkdirs()) throw IOException("cannot create $this") }

    fun save(context: Context, s: Saved) {
        val json = Json.encode(linkedMapOf(
            "run_id" to s.runId, "state" to s.state.id, "pid" to s.pid, "progress" to s.progress,
            "started_ms" to s.startedMs, "updated_ms" to s.updatedMs, "rows_done" to s.rowsDone, "rows_total" to s.rowsTotal,
        ))
        ResultDelivery.writeAtomically(dir(context), "${s.runId}.state.json", json)
    }

    fun load(context: Context, runId: String): Saved? {
        val f = runCatching { File(dir(context), "$runId.state.json") }.getOrNull()?.takeIf { it.isFile } ?: return null
        return runCatching {
            val o = JSONObject(f.readText())
            Saved(
                o.getString("run_id"), RunState.values().first { it.id == o.getString("state") }, o.getInt("pid"),
                o.getString("progress"), o.getLong("started_ms"), o.getLong("updated_ms"), o.getInt("rows_done"), o.getInt("rows_total"),
            )
        }.getOrNull()
    }
}
