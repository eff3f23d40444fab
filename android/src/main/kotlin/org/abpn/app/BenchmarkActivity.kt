package org.abpn.app

import android.app.Activity
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
 */
class BenchmarkActivity : Activity() {
    private lateinit var statusView: TextView
    private var run: RunRegistry.Run? = null
    private val listener: (RunRegistry.Run) -> Unit = { r -> runOnUiThread { show(r) } }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        statusView = TextView(this).apply { textSize = 18f; setPadding(32, 32, 32, 32) }
        setContentView(statusView)
        window.addFlags(WindowManager.LayoutParams.FLAG_KEEP_SCREEN_ON)
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
