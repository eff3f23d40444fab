package org.abpn.app

import android.os.Build
import android.os.Bundle
import android.view.WindowManager
import android.widget.TextView
import org.abpn.core.RunState

/**
 * Started by the host with `am start -S -W -n org.abpn.app/.BenchmarkActivity` and the extras of
 * docs/phone-protocol.md (only the shell can: the manifest asks for android.permission.DUMP). The run
 * itself lives in [RunRegistry]; this screen shows its progress, keeps the screen on while it lasts
 * and finishes when it ends, as TFLite's benchmark activity does, so the next `am start` starts
 * afresh. A recreated instance (rotation) attaches to the same run.
 *
 * It stays the visible (top) app for the run: shown over the keyguard and turning the screen on
 * (setShowWhenLocked/setTurnScreenOn, API 27; the window flags before), which AOSP allows any
 * activity, so a locked phone (`--allow-locked`) does not stop it. Nothing an app may do keeps it
 * on top when the user presses HOME: [Visibility] records onStart..onStop and rows timed while it
 * was stopped are `invalid`. A foreground service was not chosen: it would keep the processes
 * unfrozen but in the foreground, not the top-app, scheduling group, so those rows would not be
 * comparable either; and on Android 14+ its type would be shortService (3 minutes at most, shorter
 * than a run of several accelerators) or specialUse (a permission and a declared purpose).
 */
class BenchmarkActivity : MeasuringActivity() {
    private lateinit var statusView: TextView
    private var run: RunRegistry.Run? = null
    private val listener: (RunRegistry.Run) -> Unit = { r -> runOnUiThread { show(r) } }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        statusView = showStatusScreen()
        if (Build.VERSION.SDK_INT >= 27) {
            setShowWhenLocked(true)
            setTurnScreenOn(true)
        } else {
            @Suppress("DEPRECATION")
            window.addFlags(WindowManager.LayoutParams.FLAG_SHOW_WHEN_LOCKED or WindowManager.LayoutParams.FLAG_TURN_SCREEN_ON)
        }
        val extras = intent.extras?.let { b -> b.keySet().associateWith { k -> @Suppress("DEPRECATION") b.get(k) } } ?: emptyMap()
        run = RunRegistry.startOrAttach(this, extras).also { it.observe(listener) }
    }

    private fun show(r: RunRegistry.Run) {
        statusView.text = "ABPN benchmark ${r.runId}\n${r.state.id}: ${r.progress}"
        if (r.state != RunState.RUNNING && !isFinishing) finish()
    }

    override fun onDestroy() {
        run?.forget(listener)
        super.onDestroy()
    }
}
