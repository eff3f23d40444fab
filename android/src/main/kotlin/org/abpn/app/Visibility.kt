package org.abpn.app

import org.abpn.core.VisibilityLog

/**
 * Whether a [MeasuringActivity] is visible in this process (onStart..onStop), which the runner compares
 * with each accelerator's timed phase: a stopped app's processes are cached, and Android 12+'s
 * cached-apps freezer and the background cpusets apply to them.
 */
object Visibility {
    @Volatile var log = VisibilityLog()

    fun started() = log.changed(System.currentTimeMillis(), true)

    fun stopped() = log.changed(System.currentTimeMillis(), false)
}
