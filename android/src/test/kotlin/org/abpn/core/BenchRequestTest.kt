package org.abpn.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Test

class BenchRequestTest {
    private val uuid = "0f8c2a4e-1b2c-4d5e-8f90-123456789abc"
    private fun base() = mutableMapOf<String, Any?>(
        "model" to "/data/local/tmp/abpn/m.tflite", "run_id" to uuid, "input" to "/data/local/tmp/abpn/x.input.bin",
    )

    private fun badMessage(extras: Map<String, Any?>): String =
        assertThrows(BadRequestException::class.java) { BenchRequest.parse(extras) }.message!!

    @Test fun defaultsFollowTheProtocol() {
        val r = BenchRequest.parse(base())
        assertEquals(listOf(Accelerator.CPU), r.accelerators)
        assertEquals(-1, r.threads); assertEquals(3, r.warmup); assertEquals(20, r.runs); assertEquals(0, r.cooldownS)
        assertNull(r.expectedPath); assertNull(r.collectorUrl); assertNull(r.collectorToken)
        assertEquals(500, r.warmupMinMs); assertEquals(1000, r.runMinMs); assertEquals(60, r.cooldownMaxS)
        assertEquals(false, r.requireFullDelegation); assertNull(r.nnapiAccelerator)
        // benchmark_model's defaults: FAST_SINGLE_ANSWER, no CompatibilityList; the v3 timeout.
        assertEquals(false, r.gpuSustainedSpeed); assertEquals(false, r.gpuCompatibilityList); assertEquals(120, r.acceleratorTimeoutS)
    }

    @Test fun parsesTheV3Extras() {
        val r = BenchRequest.parse(base() + mapOf(
            "accelerator_timeout_s" to 30, "gpu_inference_for_sustained_speed" to true, "gpu_compatibility_list" to true,
        ))
        assertEquals(30, r.acceleratorTimeoutS); assertEquals(true, r.gpuSustainedSpeed); assertEquals(true, r.gpuCompatibilityList)
        assertTrue(badMessage(base() + ("threads" to 0)).contains("-1 (TFLite chooses"))
        assertTrue(badMessage(base() + ("accelerator_timeout_s" to 0)).contains("out of range"))
    }

    @Test fun parsesTheV2Extras() {
        val r = BenchRequest.parse(base() + mapOf(
            "warmup_min_ms" to 0, "run_min_ms" to 2500, "require_full_delegation" to true,
            "nnapi_accelerator" to "qti-htp", "cooldown_max_s" to 120,
        ))
        assertEquals(0, r.warmupMinMs); assertEquals(2500, r.runMinMs); assertEquals(true, r.requireFullDelegation)
        assertEquals("qti-htp", r.nnapiAccelerator); assertEquals(120, r.cooldownMaxS)
        assertEquals(true, BenchRequest.parse(base() + ("require_full_delegation" to "true")).requireFullDelegation)
        assertTrue(badMessage(base() + ("require_full_delegation" to 1)).contains("--ez require_full_delegation"))
        assertTrue(badMessage(base() + ("nnapi_accelerator" to "qti htp; rm")).contains("nnapi_accelerator"))
        assertTrue(badMessage(base() + ("cooldown_max_s" to -1)).contains("out of range"))
    }

    @Test fun parsesEveryExtra() {
        val e = base() + mapOf(
            "accelerators" to "cpu, gpu,nnapi,qnn_htp,qnn_dsp", "threads" to 2, "warmup" to 0, "runs" to "7",
            "expected" to "/data/local/tmp/abpn/x.expected.bin", "cooldown_s" to 10,
            "collector_url" to "http://192.168.1.10:8765/", "collector_token" to "s3cret",
        )
        val r = BenchRequest.parse(e)
        assertEquals(Accelerator.values().toList(), r.accelerators)
        assertEquals(2, r.threads); assertEquals(0, r.warmup); assertEquals(7, r.runs); assertEquals(10, r.cooldownS)
        assertEquals("http://192.168.1.10:8765", r.collectorUrl)
        assertEquals("s3cret", r.collectorToken)
    }

    @Test fun rejectsWhatTheProtocolCallsInvalid() {
        assertTrue(badMessage(base() - "model").contains("missing extra 'model'"))
        assertTrue(badMessage(base() + ("accelerators" to "cpu,tpu")).contains("unknown accelerator 'tpu'"))
        assertTrue(badMessage(base() + ("runs" to 0)).contains("out of range 1..10000"))
        assertTrue(badMessage(base() + ("runs" to 10001)).contains("out of range"))
        assertTrue(badMessage(base() + ("run_id" to "not-a-uuid")).contains("not a UUID"))
        assertTrue(badMessage(base() + ("threads" to "four")).contains("must be an integer"))
        assertTrue(badMessage(base() + ("model" to "m.tflite")).contains("absolute path"))
        assertTrue(badMessage(base() + ("accelerators" to "cpu,cpu")).contains("twice"))
        assertTrue(badMessage(base() + ("collector_url" to "ftp://x")).contains("http://"))
    }

    @Test fun errorFileNameIsTheRunIdWhenSafe() {
        assertEquals(uuid, BenchRequest.errorFileStem(base()))
        assertEquals("abc", BenchRequest.errorFileStem(mapOf("run_id" to "abc")))
        assertEquals("invalid-run-id", BenchRequest.errorFileStem(mapOf("run_id" to "../etc/passwd")))
        assertEquals("invalid-run-id", BenchRequest.errorFileStem(emptyMap()))
        // A dot would make runs/<id>.error.json ambiguous for the provider.
        assertEquals("invalid-run-id", BenchRequest.errorFileStem(mapOf("run_id" to "a.b")))
    }
}
