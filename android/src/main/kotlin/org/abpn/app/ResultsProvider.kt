package org.abpn.app

import android.content.ContentProvider
import android.content.ContentValues
import android.database.Cursor
import android.database.MatrixCursor
import android.net.Uri
import android.os.Binder
import android.os.ParcelFileDescriptor
import org.abpn.core.ResultsPath
import org.abpn.core.RunRow
import java.io.File
import java.io.FileNotFoundException

/**
 * Serves runs to the shell, which cannot read the app's storage (and on some Android 11+ phones not
 * /sdcard/Android/data either):
 *   content query --uri content://org.abpn.app.results/runs/<run_id>             the state row
 *   content read  --uri content://org.abpn.app.results/runs/<run_id>.json        the record
 *   content read  --uri content://org.abpn.app.results/runs/<run_id>.error.json  why it could not start
 * The manifest asks callers for android.permission.DUMP (the shell has it, third-party apps cannot get
 * it); on top of that only the shell and root uids are served. Read-only. Every call is a
 * `content` command the host ran on the phone (an ART VM booting there, AOSP cmds/content): one
 * that arrives while an accelerator measures is counted into the record
 * (conditions.host_commands_during_runs).
 */
class ResultsProvider : ContentProvider() {
    override fun onCreate(): Boolean = true

    private fun checkCaller() {
        val uid = Binder.getCallingUid()
        if (uid != SHELL_UID && uid != ROOT_UID) {
            throw SecurityException("only the shell (adb) may read benchmark results; uid $uid may not")
        }
    }

    private fun path(uri: Uri): ResultsPath =
        ResultsPath.parse(uri.pathSegments) ?: throw IllegalArgumentException("unknown URI $uri: use runs/<run_id>, runs/<run_id>.json or runs/<run_id>.error.json")

    override fun query(uri: Uri, projection: Array<out String>?, selection: String?, selectionArgs: Array<out String>?, sortOrder: String?): Cursor {
        checkCaller()
        RunRegistry.hostCalled()
        val p = path(uri) as? ResultsPath.State ?: throw IllegalArgumentException("query runs/<run_id>; read $uri with 'content read'")
        val cursor = MatrixCursor(RunRow.COLUMNS.toTypedArray())
        // No row ("No result found.") means the run never registered and left no file.
        RunRegistry.row(context!!, p.runId)?.let { cursor.addRow(it.values().toTypedArray()) }
        return cursor
    }

    override fun openFile(uri: Uri, mode: String): ParcelFileDescriptor {
        checkCaller()
        if (mode != "r") throw SecurityException("results are read-only")
        RunRegistry.hostCalled()
        val name = path(uri).fileName ?: throw FileNotFoundException("runs/<run_id> is a row: use 'content query'")
        val file = File(ResultFiles.resultsDir(context!!), name)
        if (!file.isFile) throw FileNotFoundException("$name is not written (yet): query runs/<run_id> for the run's state")
        return ParcelFileDescriptor.open(file, ParcelFileDescriptor.MODE_READ_ONLY)
    }

    override fun getType(uri: Uri): String? = when (ResultsPath.parse(uri.pathSegments)) {
        is ResultsPath.Record, is ResultsPath.Error -> "application/json"
        is ResultsPath.State -> "vnd.android.cursor.item/vnd.org.abpn.run"
        null -> null
    }

    override fun insert(uri: Uri, values: ContentValues?): Uri? = throw UnsupportedOperationException("results are read-only")
    override fun update(uri: Uri, values: ContentValues?, selection: String?, selectionArgs: Array<out String>?): Int =
        throw UnsupportedOperationException("results are read-only")
    override fun delete(uri: Uri, selection: String?, selectionArgs: Array<out String>?): Int =
        throw UnsupportedOperationException("results are read-only")

    companion object {
        // android.os.Process.SHELL_UID / ROOT_UID (public from API 29; this app runs from API 26).
        const val SHELL_UID = 2000
        const val ROOT_UID = 0
    }
}
