package org.abpn.app

import android.content.Context
import org.tensorflow.lite.Interpreter

/** The small build without the QNN runtime: both QNN accelerators report why they are missing. */
object QnnSupport {
    const val BUNDLED = false
    private const val REASON = "this APK was built without the QNN runtime (the noqnn variant); install the full APK to measure QNN"

    @Suppress("UNUSED_PARAMETER")
    fun htp(context: Context, base: Interpreter.Options): Setup = Setup.Unsupported(REASON, linkedMapOf("backend" to "htp"))

    @Suppress("UNUSED_PARAMETER")
    fun dsp(context: Context, base: Interpreter.Options): Setup = Setup.Unsupported(REASON, linkedMapOf("backend" to "dsp"))
}
