package org.abpn.app

import android.content.Context
import java.io.File
import java.io.IOException

/**
 * Where records live: the app's internal storage, served to the shell by [ResultsProvider]. Not
 * /sdcard/Android/data: on some Android 11+ phones the shell cannot read it.
 */
object ResultFiles {
    const val TAG = "ABPN"

    fun resultsDir(context: Context): File =
        File(context.filesDir, "results").apply { if (!isDirectory && !mkdirs()) throw IOException("cannot create $this") }
}
