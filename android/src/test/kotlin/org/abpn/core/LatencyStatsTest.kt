package org.abpn.core

import org.junit.Assert.assertEquals
import org.junit.Test

class LatencyStatsTest {
    @Test fun matchesNumpyDefinitions() {
        // numpy on 1..10: median 5.5, percentile(q=90) 9.1 (linear), std (ddof=0) 2.8722813232690143
        val s = LatencyStats.of(listOf(9.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0))
        assertEquals(1.0, s.min, 0.0)
        assertEquals(10.0, s.max, 0.0)
        assertEquals(5.5, s.median, 1e-12)
        assertEquals(9.1, s.p90, 1e-12)
        assertEquals(5.5, s.mean, 1e-12)
        assertEquals(2.8722813232690143, s.std, 1e-12)
    }

    @Test fun singleSample() {
        val s = LatencyStats.of(listOf(12.5))
        assertEquals(LatencyStats(12.5, 12.5, 12.5, 12.5, 12.5, 0.0), s)
    }

    @Test fun interpolatesBetweenOrderStatistics() {
        assertEquals(3.5, LatencyStats.percentile(listOf(1.0, 2.0, 5.0, 9.0), 50.0), 1e-12)
        assertEquals(7.8, LatencyStats.percentile(listOf(1.0, 2.0, 5.0, 9.0), 90.0), 1e-12)
    }
}
