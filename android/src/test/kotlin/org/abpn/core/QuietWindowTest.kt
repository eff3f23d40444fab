package org.abpn.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Test

class QuietWindowTest {
    private val request = BenchRequest.parse(mapOf(
        "model" to "/m.tflite", "input" to "/x.bin", "run_id" to "0f8c2a4e-1b2c-4d5e-8f90-123456789abc", "warmup" to 3, "runs" to 20,
    ))

    @Test fun aBudgetCoversCooldownInitAndBothPhasesCappedAtTheTimeout() {
        // Nothing known yet: the minimum durations (500 + 1000 ms) and the init guess.
        assertEquals(QuietWindow.INIT_GUESS_MS + 1500, QuietWindow.budgetMs(0, request, null, null, 120_000))
        // The previous accelerator's first inference (350 ms) for each of 3 + 20 runs and the first.
        assertEquals(10_000 + 800 + 350L * 24, QuietWindow.budgetMs(10_000, request, 350.0, 800.0, 120_000))
        // The measurement part never outlasts the timeout after which the app kills the accelerator.
        assertEquals(10_000 + 30_000L, QuietWindow.budgetMs(10_000, request, 5_000.0, 800.0, 30_000))
    }

    @Test fun theFirstMeasurementWaitsForTheHostsFirstQueryAtMostFiveSeconds() {
        val h = HostHandshake(startedMs = 1_000)
        h.windowSet(1_010)
        assertEquals(1_000 + HostHandshake.FIRST_ASK_MS, h.holdUntil())
        h.answered(2_200, quietUntilMs = 20_000)
        assertNull("the host has seen the window", h.holdUntil())
    }

    @Test fun aLaterMeasurementWaitsUntilTheHostsScheduledLookHasHappened() {
        val h = HostHandshake(startedMs = 0)
        h.answered(1_000, quietUntilMs = 20_000)
        // The first accelerator ended early; the second's window is set at 12 s: the host looks at 21 s.
        h.windowSet(12_000)
        assertEquals(20_000 + HostHandshake.ASK_SLACK_MS, h.holdUntil())
        h.answered(21_000, quietUntilMs = 40_000)
        assertNull(h.holdUntil())
    }

    @Test fun aHostBackingOffIsWaitedForAtMostItsLongestBackOff() {
        val h = HostHandshake(startedMs = 0)
        // Asked past the window: the host backs off 1, 2, 4, 8, 15 s.
        h.answered(25_000, quietUntilMs = 20_000)
        h.windowSet(26_000)
        assertEquals(25_000 + HostHandshake.BACKOFF_CAP_MS + HostHandshake.ASK_SLACK_MS, h.holdUntil())
    }
}
