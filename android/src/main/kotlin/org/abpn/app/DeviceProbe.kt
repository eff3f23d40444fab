package org.abpn.app

import android.app.ActivityManager
import android.app.Application
import android.app.ApplicationExitInfo
import android.app.KeyguardManager
import android.content.Context
import android.content.Intent
import android.content.IntentFilter
import android.os.BatteryManager
import android.os.Build
import android.os.PowerManager
import android.os.Process
import android.system.Os
import android.system.OsConstants
import org.abpn.core.DeviceInfo
import org.abpn.core.PageSupport
import org.abpn.core.PhoneState
import java.io.File
import java.io.RandomAccessFile
import java.util.concurrent.TimeUnit

/** What the phone says about itself: identity, state, page size, its own log and how its processes ended. */
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
     * Screen, lock, battery, power saving and thermal state; none of it needs a permission
     * (PowerManager.getCurrentThermalStatus API 29, getThermalHeadroom API 30). Each reading that
     * fails (a vendor's thermal HAL may throw) is null rather than the end of the run.
     */
    fun phoneState(context: Context): PhoneState {
        val power = context.getSystemService(Context.POWER_SERVICE) as PowerManager
        val keyguard = context.getSystemService(Context.KEYGUARD_SERVICE) as KeyguardManager
        val battery = context.registerReceiver(null, IntentFilter(Intent.ACTION_BATTERY_CHANGED))
        val level = battery?.getIntExtra(BatteryManager.EXTRA_LEVEL, -1) ?: -1
        val scale = battery?.getIntExtra(BatteryManager.EXTRA_SCALE, -1) ?: -1
        val plugged = battery?.getIntExtra(BatteryManager.EXTRA_PLUGGED, -1) ?: -1
        val tenths = battery?.getIntExtra(BatteryManager.EXTRA_TEMPERATURE, Int.MIN_VALUE) ?: Int.MIN_VALUE
        return PhoneState(
            screenOn = runCatching { power.isInteractive }.getOrNull(),
            keyguardLocked = runCatching { keyguard.isKeyguardLocked }.getOrNull(),
            batteryPct = if (level >= 0 && scale > 0) Math.round(level * 100f / scale) else null,
            // Plugged in to any power source: the heat of charging matters, whether or not the battery is full.
            charging = if (plugged >= 0) plugged != 0 else null,
            powerSave = runCatching { power.isPowerSaveMode }.getOrNull(),
            thermalStatus = if (Build.VERSION.SDK_INT >= 29) runCatching { power.currentThermalStatus }.getOrNull() else null,
            thermalHeadroom = if (Build.VERSION.SDK_INT >= 30) {
                runCatching { power.getThermalHeadroom(10).toDouble() }.getOrNull()?.takeIf { !it.isNaN() }
            } else null,
            batteryTempC = if (tenths == Int.MIN_VALUE) null else tenths / 10.0,
        )
    }

    /**
     * Whether this phone's page size rules TFLite out (before Android 16) or lets it load only in
     * the 16 KB backcompat mode (Android 16+, then tried). The libraries are the ones the installer
     * extracted (extractNativeLibs=true); when they cannot be read, nothing is claimed.
     */
    fun pagePlan(context: Context): PageSupport.Plan {
        val none = PageSupport.Plan(null, null)
        val pageSize = runCatching { Os.sysconf(OsConstants._SC_PAGESIZE) }.getOrNull()?.takeIf { it > 0 } ?: return none
        val dir = context.applicationInfo.nativeLibraryDir ?: return none
        val alignments = LinkedHashMap<String, Long>()
        for (name in listOf("libtensorflowlite_jni.so", "libtensorflowlite_gpu_jni.so")) {
            val f = File(dir, name)
            if (!f.canRead()) continue
            runCatching { RandomAccessFile(f, "r").use { PageSupport.minLoadAlignment(it) } }.getOrNull()?.let { alignments[name] = it }
        }
        return PageSupport.plan(pageSize, alignments, Build.VERSION.SDK_INT)
    }

    /** /proc/self/<name>, or why it cannot be read (SELinux, a kernel without it). */
    fun procSelf(name: String): Result<String> = runCatching { File("/proc/self/$name").readText() }

    /** This process's log lines with epoch timestamps (an app may always read its own log). */
    fun ownLogLines(): List<String> = runCatching {
        run(listOf("logcat", "-d", "-v", "epoch", "--pid=${Process.myPid()}"))
    }.getOrDefault(emptyList())

    /**
     * The app's log and crash buffers: a non-privileged reader sees its own uid's lines, which
     * include the accelerator process and the crash_dump that wrote its tombstone lines.
     */
    fun crashLogLines(): List<String> = runCatching {
        run(listOf("logcat", "-d", "-v", "epoch", "-b", "main,crash"))
    }.getOrDefault(emptyList())

    /** The signal that ended [pid], from ActivityManager's exit records (API 30+); null when unknown. */
    fun exitSignal(context: Context, pid: Int): Int? {
        if (Build.VERSION.SDK_INT < 30) return null
        val am = context.getSystemService(Context.ACTIVITY_SERVICE) as ActivityManager
        val info = runCatching { am.getHistoricalProcessExitReasons(context.packageName, pid, 1) }.getOrNull()?.firstOrNull() ?: return null
        return when (info.reason) {
            ApplicationExitInfo.REASON_CRASH_NATIVE, ApplicationExitInfo.REASON_SIGNALED -> info.status
            else -> null
        }
    }

    fun processName(context: Context): String =
        if (Build.VERSION.SDK_INT >= 28) Application.getProcessName()
        else runCatching { File("/proc/self/cmdline").readText().substringBefore('\u0000') }.getOrDefault(context.packageName)

    private fun run(command: List<String>): List<String> {
        val p = ProcessBuilder(command).redirectErrorStream(true).start()
        val lines = p.inputStream.bufferedReader().use { it.readLines() }
        if (!p.waitFor(10, TimeUnit.SECONDS)) p.destroy()
        return lines
    }
}
