package org.abpn.core

/** How an accelerator's process died: the signal when there was one, and the top of its crash log. */
data class Crash(val signal: Int?, val signalName: String?, val log: List<String>) : java.io.Serializable {
    fun toJsonMap(): Map<String, Any?> = linkedMapOf(
        "signal" to signal,
        "signal_name" to signalName,
        "log" to log.map { clip(it, 200) },
    )

    /** The row's reason: what died and how. */
    fun reason(accelerator: Accelerator): String {
        val how = when {
            signalName != null -> "a native crash ($signalName, signal $signal)"
            signal != null -> "signal $signal"
            log.any { it.contains("FATAL EXCEPTION") } -> "an uncaught Java exception"
            else -> "an unknown cause"
        }
        return "the ${accelerator.id} process died of $how before reporting; the other accelerators are unaffected"
    }
}

/**
 * Reads a dead accelerator process's crash out of logcat (`logcat -d -v epoch`, the app's own uid):
 * libc's "Fatal signal 11 (SIGSEGV), code 1 (SEGV_MAPERR), fault addr ... pid P (org.abpn.app:accelerator)"
 * line (bionic debuggerd_handler.cpp), the tombstone lines that crash_dump logs under the DEBUG tag
 * (libdebuggerd tombstone.cpp: "signal 11 (SIGSEGV), code ...", "backtrace:", "#00 pc ..."), and for
 * a Java crash AndroidRuntime's "FATAL EXCEPTION" block.
 */
object CrashLog {
    const val MAX_LINES = 40

    private val FATAL = Regex("Fatal signal (\\d+) \\((SIG[A-Z0-9]+)\\)")
    private val EPOCH = Regex("^\\s*(\\d+)\\.(\\d{3})\\s+(\\d+)\\s+(\\d+)\\s+([VDIWEFA])\\s+(\\S+?)\\s*:\\s?(.*)$")

    private val NAMES = mapOf(
        4 to "SIGILL", 5 to "SIGTRAP", 6 to "SIGABRT", 7 to "SIGBUS", 8 to "SIGFPE", 9 to "SIGKILL",
        11 to "SIGSEGV", 13 to "SIGPIPE", 15 to "SIGTERM", 16 to "SIGSTKFLT", 31 to "SIGSYS",
    )

    fun signalName(signal: Int?): String? = signal?.let { NAMES[it] }

    /**
     * [pid] is the dead process; [sinceMs] drops older crashes. [exitSignal] is what
     * ActivityManager's ApplicationExitInfo said (REASON_CRASH_NATIVE keeps the signal in `status`),
     * used when the log has no "Fatal signal" line.
     */
    fun parse(lines: List<String>, pid: Int, sinceMs: Long, exitSignal: Int? = null): Crash {
        var signal: Int? = null
        var name: String? = null
        val kept = ArrayList<String>()
        var inCrash = false
        for (line in lines) {
            val m = EPOCH.find(line) ?: continue
            val t = m.groupValues[1].toLong() * 1000 + m.groupValues[2].toLong()
            if (t < sinceMs) continue
            val linePid = m.groupValues[3].toInt()
            val tag = m.groupValues[6]
            val text = m.groupValues[7]
            val fatal = FATAL.find(text)
            if (linePid == pid && fatal != null) {
                signal = fatal.groupValues[1].toInt(); name = fatal.groupValues[2]; inCrash = true
                kept.add("$tag: $text")
            } else if (inCrash && tag == "DEBUG") {
                kept.add("$tag: $text")
            } else if (linePid == pid && tag == "AndroidRuntime") {
                kept.add("$tag: $text")
            }
            if (kept.size >= MAX_LINES) break
        }
        if (signal == null && exitSignal != null && exitSignal > 0) {
            signal = exitSignal; name = signalName(exitSignal)
        }
        return Crash(signal, name ?: signalName(signal), kept)
    }
}
