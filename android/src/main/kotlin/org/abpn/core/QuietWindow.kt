package org.abpn.core

/**
 * When the host may next run a command on the phone (PROTOCOL v3 §1-2: `quiet_until_ms`). The host
 * asks at that time and not before, so every estimate that is too short costs one counted host
 * command in the middle of a measurement; one too long only delays the host's next look.
 */
object QuietWindow {
    /** Creating the interpreter and the delegate before anything is known of this phone (GPU kernel compilation takes seconds). */
    const val INIT_GUESS_MS = 3000L

    /**
     * One accelerator's budget: its cool-down, the init (the previous accelerator's when known), and
     * the warm-up and timed phases, at least their minimum durations and, when the previous
     * accelerator's first inference is known, that time for each of the warm-up and timed runs.
     * The measurement part is capped at [timeoutMs], after which the app kills the accelerator.
     */
    fun budgetMs(
        cooldownMs: Long,
        request: BenchRequest,
        previousFirstInferenceMs: Double?,
        previousInitMs: Double?,
        timeoutMs: Long,
    ): Long {
        val minimums = (request.warmupMinMs + request.runMinMs).toLong()
        val perRun = previousFirstInferenceMs?.let { Math.ceil(it * (request.warmup + request.runs + 1)).toLong() } ?: 0L
        val init = previousInitMs?.let { Math.ceil(it).toLong() } ?: INIT_GUESS_MS
        return cooldownMs + Math.min(timeoutMs, init + Math.max(minimums, perRun))
    }
}

/**
 * Makes the host's scheduled look fall between measurements. The host asks once after `am start`,
 * then at each `quiet_until_ms` it was told (+1 s), and when it finds the run still going past it,
 * after 1, 2, 4, 8, 15 s. A new accelerator's window is published only when the host next asks; so
 * before it measures, the app waits (at most until the host's next look is due, plus slack) until
 * the host has seen the window that covers this accelerator. Android-free; the caller supplies time.
 */
class HostHandshake(private val startedMs: Long) {
    private var lastAnswerMs: Long? = null
    private var answeredQuietMs: Long? = null
    private var windowSetMs = startedMs

    /** A provider answer went out at [nowMs] carrying [quietUntilMs]. */
    @Synchronized fun answered(nowMs: Long, quietUntilMs: Long?) {
        lastAnswerMs = nowMs
        answeredQuietMs = quietUntilMs
    }

    /** The app published a new window at [nowMs] (the next accelerator starts). */
    @Synchronized fun windowSet(nowMs: Long) { windowSetMs = nowMs }

    /** Until when to hold the measurement; null when the host already knows the current window. */
    @Synchronized fun holdUntil(): Long? {
        val last = lastAnswerMs ?: return startedMs + FIRST_ASK_MS
        if (last >= windowSetMs) return null
        val quiet = answeredQuietMs
        return if (quiet != null && quiet > last) quiet + ASK_SLACK_MS else last + BACKOFF_CAP_MS + ASK_SLACK_MS
    }

    companion object {
        /** `am start -W` returns once the activity is drawn; the host's first query follows at once. */
        const val FIRST_ASK_MS = 5_000L
        /** The host asks 1 s after quiet_until_ms; the rest is for adb and the `content` VM starting. */
        const val ASK_SLACK_MS = 4_000L
        /** The host's longest back-off between asks. */
        const val BACKOFF_CAP_MS = 15_000L
    }
}
