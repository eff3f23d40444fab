package org.abpn.app

import android.content.Context
import android.content.Intent
import android.content.IntentFilter
import android.os.BatteryManager
import android.os.Build
import android.os.Process
import org.abpn.core.DeviceInfo
import java.util.concurrent.TimeUnit

/** What the phone says about itself: identity, temperature, and its own log. */
object DeviceProbe {
    fun deviceInfo(): DeviceInfo = DeviceInfo(
        manufacturer = Build.MANUFACTURER,
        model = Build.MODEL,
        socManufacturer = if (Build.VERSION.SDK_INT >= 31) Build.SOC_MANUFACTURER else null,
        socModel = if (Build.VERSION.SDK_INT >= 31) Build.SOC_MODEL else null,
        boardPlatform = getprop("ro.board.platform"),
        hardware = Build.HARDWARE,
        chipsetName = null,
        androidRelease = Build.VERSION.RELEASE,
        sdkInt = Build.VERSION.SDK_INT,
        abi = Build.SUPPORTED_ABIS.firstOrNull(),
        cpuCount = Runtime.getRuntime().availableProcessors(),
    )

    /** System properties through the getprop tool: android.os.SystemProperties is not public API. */
    fun getprop(key: String): String? = runCatching {
        val lines = run(listOf("getprop", key))
        lines.firstOrNull()?.trim()?.takeIf { it.isNotEmpty() }
    }.getOrNull()

    /**
     * Battery temperature in °C: the one thermal reading every app may read on every Android version
     * (thermal zones in sysfs are closed to apps by SELinux on many phones).
     */
    fun batteryTemperatureC(context: Context): Double? {
        val status = context.registerReceiver(null, IntentFilter(Intent.ACTION_BATTERY_CHANGED)) ?: return null
        val tenths = status.getIntExtra(BatteryManager.EXTRA_TEMPERATURE, Int.MIN_VALUE)
        return if (tenths == Int.MIN_VALUE) null else tenths / 10.0
    }

    /** This process's log lines with epoch timestamps (an app may always read its own log). */
    fun ownLogLines(): List<String> = runCatching {
        run(listOf("logcat", "-d", "-v", "epoch", "--pid=${Process.myPid()}"))
    }.getOrDefault(emptyList())

    private fun run(command: List<String>): List<String> {
        val p = ProcessBuilder(command).redirectErrorStream(true).start()
        val lines = p.inputStream.bufferedReader().use { it.readLines() }
        if (!p.waitFor(10, TimeUnit.SECONDS)) p.destroy()
        return lines
    }
}
