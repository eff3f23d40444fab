package org.abpn.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Test

class ResultRecordTest {
    @Test fun okResultCarriesTimingsStatisticsAndChecks() {
        val json = SampleRecords.ok().toJson()
        assertTrue(json.startsWith("{\"schema_version\":1,\"run_id\":\"0f8c2a4e-1b2c-4d5e-8f90-123456789abc\",\"created_at\":\"2026-11-24T15:00:00.123Z\""))
        assertTrue(json.contains("\"latency_ms\":{\"min\":349.75,\"median\":350.75,"))
        assertTrue(json.contains("\"samples_ms\":[350,351.5,349.75,360]"))
        assertTrue(json.contains("\"runs\":4"))
        assertTrue(json.contains("\"model\":\"Pixel 8 \\\"Pro\\\"\""))
        assertTrue(json.contains("\"app\":{\"name\":\"abpn-android\""))
    }

    @Test fun failedReasonKeepsTheMessageAndIsClipped() {
        val r = SampleRecords.failed().results.single().toJsonMap()
        val reason = r["reason"] as String
        assertTrue(reason.startsWith("IllegalArgumentException: Internal error: Failed to apply delegate"))
        assertEquals(2000, reason.length)
        assertEquals("failed", r["status"])
        assertFalse(r.containsKey("latency_ms"))
    }

    @Test fun describeFollowsCauses() {
        assertEquals("RuntimeException: a <- caused by IllegalStateException: b",
            AcceleratorResult.describe(RuntimeException("a", IllegalStateException("b"))))
    }

    @Test fun contractsAreEnforcedWhenBuilding() {
        assertThrows(IllegalArgumentException::class.java) { AcceleratorResult(Accelerator.CPU, emptyMap(), Status.OK) }
        assertThrows(IllegalArgumentException::class.java) { AcceleratorResult(Accelerator.CPU, emptyMap(), Status.FAILED) }
        assertThrows(IllegalArgumentException::class.java) {
            AcceleratorResult.unsupported(Accelerator.CPU, mapOf("Bad-Key" to 1), "x")
        }
    }

    @Test fun errorFileHasRunIdAndMessage() {
        assertEquals("{\"run_id\":\"r\",\"error\":\"bad \\\"x\\\"\"}", ResultRecord.errorJson("r", "bad \"x\""))
    }
}
