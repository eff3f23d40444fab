package org.abpn.core

import org.junit.Assert.assertEquals
import org.junit.Test

class TimedLoopTest {
    /** A clock that advances [stepMs] per inference. */
    private class FakeClock(val stepMs: Double) {
        var ns = 0L
        fun inference(): Inference { ns += (stepMs * 1e6).toLong(); return Inference(stepMs * 0.9, stepMs) }
    }

    @Test fun stopsAtTheCountWhenTheMinimumDurationIsAlreadyReached() {
        val c = FakeClock(100.0)
        val p = TimedLoop.repeat(20, 1000, { c.ns }, once = c::inference)
        assertEquals(20, p.inferences.size)
        assertEquals(2000.0, p.elapsedMs, 1e-9)
    }

    @Test fun continuesUntilTheMinimumDurationAfterTheCount() {
        val c = FakeClock(10.0)
        val p = TimedLoop.repeat(20, 1000, { c.ns }, once = c::inference)
        assertEquals(100, p.inferences.size)
    }

    @Test fun zeroCountAndZeroDurationRunsNothing() {
        val c = FakeClock(10.0)
        assertEquals(0, TimedLoop.repeat(0, 0, { c.ns }, once = c::inference).inferences.size)
    }

    @Test fun theMaximumDurationCapsEvenTheCount() {
        val c = FakeClock(60_000.0)
        val p = TimedLoop.repeat(20, 1000, { c.ns }, once = c::inference)
        assertEquals(3, p.inferences.size) // 0, 60 and 120 s are within 150 s; 180 s is past it
    }
}
