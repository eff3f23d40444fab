package org.abpn.app

import android.app.Activity
import android.view.WindowManager
import android.widget.TextView

/**
 * A screen that stays in front while accelerators are timed: its onStart..onStop goes to
 * [Visibility], and rows timed while it was stopped are `invalid` (a stopped app's processes are
 * cached and may be frozen or moved to background cpusets).
 */
abstract class MeasuringActivity : Activity() {
    /** The status line, on a screen kept on for the whole run. */
    protected fun showStatusScreen(): TextView {
        val view = TextView(this).apply { textSize = 18f; setPadding(32, 32, 32, 32) }
        setContentView(view)
        window.addFlags(WindowManager.LayoutParams.FLAG_KEEP_SCREEN_ON)
        return view
    }

    override fun onStart() {
        super.onStart()
        Visibility.started()
    }

    override fun onStop() {
        // A recreation (a configuration change) stops this instance only to start the next one at once.
        if (!isChangingConfigurations) Visibility.stopped()
        super.onStop()
    }
}
