package org.abpn.app

import android.content.Context
import java.io.File
import java.io.IOException

/** The result folder the host pulls from (docs/phone-protocol.md). */
object ResultFiles {
    const val TAG = "ABPN"

    fun resultsDir(context: Context): File {
        val base = context.getExternalFilesDir(null) ?: throw IOException("external storage is not available")
        return File(base, "results").apply { if (!isDirectory && !mkdirs()) throw IOException("cannot create $this") }
    }
}
