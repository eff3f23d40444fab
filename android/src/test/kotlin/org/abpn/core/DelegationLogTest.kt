package org.abpn.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Test

class DelegationLogTest {
    private val log = listOf(
        "1795530000.100  4242  4300 I tflite  : Created TensorFlow Lite XNNPACK delegate for CPU.",
        "1795530000.120  4242  4300 I tflite  : Replacing 12 out of 12 node(s) with delegate (TfLiteXNNPackDelegate) node, yielding 1 partitions for the whole graph.",
        "1795530009.400  4242  4300 I tflite  : Initialized OpenCL-based API.",
        "1795530009.500  4242  4300 I tflite  : Replacing 10 out of 12 node(s) with delegate (TfLiteGpuDelegateV2) node, yielding 2 partitions for the whole graph.",
        "1795530009.600  4242  4300 I tflite  : Replacing 2 out of 3 node(s) with delegate (TfLiteXNNPackDelegate) node, yielding 2 partitions for the whole graph.",
    )

    @Test fun parsesLinesAfterTheStartTime() {
        val all = DelegationLog.parse(log, 0)
        assertEquals(3, all.size)
        assertEquals(DelegationLine(1795530009500, 10, 12, "TfLiteGpuDelegateV2", 2), all[1])
        assertEquals(2, DelegationLog.parse(log, 1795530009000).size)
    }

    @Test fun gpuTakesItsOwnLineAndTheRestFallsBackToXnnpack() {
        val d = DelegationLog.summarize(Accelerator.GPU, DelegationLog.parse(log, 1795530009000), 12)
        // A line read back proves the log readable.
        assertEquals(Delegation(10, 12, "xnnpack", d.evidence, true), d)
        assertTrue(d.evidence!!, d.evidence!!.contains("the other 2 node(s) ran on XNNPACK"))
    }

    @Test fun cpuUsesTheXnnpackLine() {
        val d = DelegationLog.summarize(Accelerator.CPU, DelegationLog.parse(log, 0).take(1), 12)
        assertEquals(12, d.delegatedNodes)
        assertNull(d.fallback)
    }

    @Test fun noLineLeavesTheCountUnknown() {
        val d = DelegationLog.summarize(Accelerator.NNAPI, emptyList(), 12)
        assertEquals(Delegation(null, 12, "xnnpack", d.evidence), d)
    }

    @Test fun gpuBackendComesFromTheLog() {
        assertEquals("opencl", DelegationLog.gpuBackend(log))
        assertEquals("opengl", DelegationLog.gpuBackend(listOf("1.000 1 1 I tflite  : Initialized OpenGL-based API.")))
        assertEquals("unknown", DelegationLog.gpuBackend(listOf("1.000 1 1 I tflite  : Created 1 GPU delegate kernels.")))
    }

    @Test fun aDelegateThatTookNothingIsNotOk() {
        val (status, reason) = DelegationVerdict.judge(Accelerator.NNAPI, Delegation(0, 12, "xnnpack", null), false)
        assertEquals(Status.NOT_DELEGATED, status)
        assertTrue(reason!!, reason.contains("took 0 of 12 nodes"))
    }

    @Test fun requireFullDelegationFailsAPartialOne() {
        val partial = Delegation(10, 12, "xnnpack", null)
        assertEquals(Status.OK to null, DelegationVerdict.judge(Accelerator.GPU, partial, false))
        assertEquals(Status.FAILED to "delegated 10 of 12 nodes (require_full_delegation)", DelegationVerdict.judge(Accelerator.GPU, partial, true))
        assertEquals(Status.OK to null, DelegationVerdict.judge(Accelerator.GPU, Delegation(12, 12, "xnnpack", null), true))
        assertEquals(Status.FAILED, DelegationVerdict.judge(Accelerator.GPU, Delegation(null, 12, "xnnpack", null), true).first)
        // The CPU row is XNNPACK's own: nothing to require.
        assertEquals(Status.OK to null, DelegationVerdict.judge(Accelerator.CPU, Delegation(0, 12, null, null), true))
    }

    @Test fun aMutedLogIsUnknownNotNotDelegated() {
        val muted = DelegationLog.summarize(Accelerator.GPU, emptyList(), 12, logReadable = false)
        assertEquals(false, muted.logReadable)
        assertEquals(null, muted.delegatedNodes)
        assertEquals(false, muted.toJsonMap()["log_readable"])
        // require_full_delegation cannot fail a row on a log it could not read; a readable log without the line still does.
        assertEquals(Status.OK to null, DelegationVerdict.judge(Accelerator.GPU, muted, true))
        val silent = DelegationLog.summarize(Accelerator.GPU, emptyList(), 12, logReadable = true)
        assertEquals(true, silent.logReadable)
        assertEquals(Status.FAILED, DelegationVerdict.judge(Accelerator.GPU, silent, true).first)
    }
}
