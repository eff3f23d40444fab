package org.abpn.app

import org.abpn.core.ResultRecord

/**
 * What a [BenchmarkRunner] tells whoever runs it, besides its progress. The ADB run ([RunRegistry.Run])
 * publishes the host's quiet windows, holds each measurement until the host has seen its window,
 * counts the host's calls during measurements and stores the record after every row. A runner
 * without a host (a test loop) needs none of it: [NONE].
 */
interface RunHooks {
    /**
     * An accelerator after the first starts (its cool-down first): publish quiet_until_ms for
     * [budgetMs], of which [cooldownMs] is cool-down. The first accelerator's window is published by
     * whoever starts the run, before the runner's thread exists (RunRegistry), so that the host's
     * first query, right after `am start -W`, always gets one.
     */
    fun acceleratorStarts(budgetMs: Long, cooldownMs: Long) {}

    /** Returns when the host has seen the current window (or when its look is overdue). */
    fun holdForHost() {}

    /** The measurement itself starts (bound service to result) with [budgetMs] to go, or ends (null). */
    fun measuring(budgetMs: Long?) {}

    /** Host commands counted during measurements so far; null when nobody counts. */
    fun hostCommandsDuringRuns(): Int? = null

    /** [record] holds [done] of [total] rows; partial (complete false) until the last. */
    fun rowDone(record: ResultRecord, done: Int, total: Int) {}

    companion object {
        val NONE = object : RunHooks {}
    }
}
