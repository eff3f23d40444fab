package org.abpn.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Test

class ResultRecordTest {
    @Test fun okResultCarriesTimingsStatisticsAndChecks() {
        val json = SampleRecords.ok().toJson()
        assertTrue(json.startsWith("{\"schema_version\":3,\"run_id\":\"0f8c2a4e-1b2c-4d5e-8f90-123456789abc\",\"created_at\":\"2026-11-24T15:00:00.123Z\""))
        assertTrue(json.contains("\"init_ms\":41.5,\"first_inference_ms\":380.25,\"warmup_runs\":3,\"runs\":4,\"latency_ms\":{\"min\":349.75,\"median\":350.75,"))
        assertTrue(json.contains("\"samples_ms\":[350,351.5,349.75,360],\"timing\":{\"delegate_create_ms\":0,\"interpreter_create_ms\":41.5,\"warmup_ms\":1051,\"wall_samples_ms\":[352,353.5,351,362.5],\"wall_latency_ms\":{\"min\":351,\"median\":352.75,"))
        assertTrue(json.contains("\"warmup_min_ms\":500,\"run_min_ms\":1000}"))
        assertTrue(json.contains("\"model\":\"Pixel 8 \\\"Pro\\\"\""))
        assertTrue(json.contains("\"app\":{\"name\":\"abpn-android\""))
    }

    @Test fun failedReasonKeepsTheMessageAndIsClipped() {
        val r = SampleRecords.failed().results.first().toJsonMap()
        val reason = r["reason"] as String
        assertTrue(reason.startsWith("IllegalArgumentException: Internal error: Failed to apply delegate"))
        assertEquals(2000, reason.length)
        assertEquals("failed", r["status"])
        assertFalse(r.containsKey("latency_ms"))
        assertFalse(r.containsKey("timing"))
    }

    @Test fun initIncludesTheDelegateCreation() {
        val gpu = SampleRecords.ok().results[1].toJsonMap()
        assertEquals(900.0, gpu["init_ms"])
        @Suppress("UNCHECKED_CAST") val timing = gpu["timing"] as Map<String, Any?>
        assertEquals(120.5, timing["delegate_create_ms"])
        @Suppress("UNCHECKED_CAST") val d = gpu["delegation"] as Map<String, Any?>
        assertEquals(mapOf("delegated_nodes" to 10, "total_nodes" to 12, "fallback" to "xnnpack", "log_readable" to null), d - "evidence")
    }

    @Test fun aCrashKeepsItsSignalAndLogAndTheOtherRows() {
        val rows = SampleRecords.failed().toJsonMap()["results"] as List<*>
        @Suppress("UNCHECKED_CAST") val crashed = rows[1] as Map<String, Any?>
        assertEquals("failed", crashed["status"])
        @Suppress("UNCHECKED_CAST") val crash = crashed["crash"] as Map<String, Any?>
        assertEquals(11, crash["signal"]); assertEquals("SIGSEGV", crash["signal_name"])
        assertTrue(crashed["reason"].toString(), crashed["reason"].toString().contains("native crash (SIGSEGV, signal 11)"))
        assertEquals(2, rows.size)
    }

    @Test fun conditionsBeforeAndAfterEachAccelerator() {
        @Suppress("UNCHECKED_CAST") val c = SampleRecords.ok().results[1].toJsonMap()["conditions"] as Map<String, Any?>
        assertEquals(42.5, c["cooldown_waited_s"])
        assertEquals(
            linkedMapOf("screen_on" to true, "keyguard_locked" to false, "battery_pct" to 81, "charging" to true, "power_save" to false,
                "thermal_status" to 0, "thermal_headroom" to 0.42, "battery_temp_c" to 31.5),
            c["before"],
        )
        // The platform answers NaN headroom when it cannot tell; JSON has no NaN.
        assertEquals(null, SampleRecords.cool.copy(thermalHeadroom = Double.NaN).toJsonMap()["thermal_headroom"])
    }

    @Test fun notDelegatedIsItsOwnStatusWithTimings() {
        val r = SampleRecords.ok().results[2].toJsonMap()
        assertEquals("not_delegated", r["status"])
        assertTrue(r.containsKey("timing"))
    }

    @Test fun resultsSurviveJavaSerialization() {
        // The accelerator process hands its row to the main process this way.
        val row = SampleRecords.ok().results[1]
        val bytes = java.io.ByteArrayOutputStream().also { b -> java.io.ObjectOutputStream(b).use { it.writeObject(row) } }.toByteArray()
        val back = java.io.ObjectInputStream(bytes.inputStream()).use { it.readObject() }
        assertEquals(row, back)
    }

    @Test fun describeFollowsCauses() {
        assertEquals("RuntimeException: a <- caused by IllegalStateException: b",
            AcceleratorResult.describe(RuntimeException("a", IllegalStateException("b"))))
    }

    @Test fun contractsAreEnforcedWhenBuilding() {
        assertThrows(IllegalArgumentException::class.java) { AcceleratorResult(Accelerator.CPU, emptyMap(), Status.OK) }
        assertThrows(IllegalArgumentException::class.java) { AcceleratorResult(Accelerator.GPU, emptyMap(), Status.NOT_DELEGATED, reason = "x") }
        assertThrows(IllegalArgumentException::class.java) { AcceleratorResult(Accelerator.CPU, emptyMap(), Status.FAILED) }
        assertThrows(IllegalArgumentException::class.java) {
            AcceleratorResult.unsupported(Accelerator.CPU, mapOf("Bad-Key" to 1), "x")
        }
    }

    @Test fun errorFileHasRunIdAndMessage() {
        assertEquals("{\"run_id\":\"r\",\"error\":\"bad \\\"x\\\"\"}", ResultRecord.errorJson("r", "bad \"x\""))
    }

    @Test fun aPartialRecordSaysSoAndAnInvalidRowKeepsItsTimings() {
        val partial = SampleRecords.partial().toJsonMap()
        assertEquals(false, partial["complete"])
        assertEquals("2 of 3 accelerators measured; the run is still going", partial["incomplete_reason"])
        assertEquals(2, (partial["conditions"] as Map<*, *>)["host_commands_during_runs"])
        val invalid = (partial["results"] as List<*>)[0] as Map<*, *>
        assertEquals("invalid", invalid["status"])
        assertTrue(invalid.containsKey("samples_ms"))
        assertEquals(false, (invalid["process"] as Map<*, *>)["visible_throughout"])
        // The timed phase's bounds are for the main process only.
        assertFalse((invalid["process"] as Map<*, *>).containsKey("timed_from_ms"))
        val complete = SampleRecords.ok().toJsonMap()
        assertFalse(complete.containsKey("complete"))
        assertEquals(0, (complete["conditions"] as Map<*, *>)["host_commands_during_runs"])
        val cpu = (complete["results"] as List<*>)[0] as Map<*, *>
        assertEquals(linkedMapOf("rss_before_bytes" to 180_224L * 1024, "peak_rss_bytes" to 212_480L * 1024, "source" to "/proc/self/status"), cpu["memory"])
        assertEquals("/top-app", (cpu["process"] as Map<*, *>)["cpuset"])
        assertThrows(IllegalArgumentException::class.java) {
            ResultRecord("r", 0, SampleRecords.ok().device, SampleRecords.ok().model, SampleRecords.ok().app, emptyList(), Conditions(null, null, null, null))
        }
        assertEquals(0, ResultRecord("r", 0, SampleRecords.ok().device, SampleRecords.ok().model, SampleRecords.ok().app, emptyList(),
            Conditions(null, null, null, null), "0 of 2 accelerators measured").results.size)
        assertThrows(IllegalArgumentException::class.java) {
            AcceleratorResult(Accelerator.CPU, emptyMap(), Status.INVALID, reason = "not visible")
        }
    }
}
