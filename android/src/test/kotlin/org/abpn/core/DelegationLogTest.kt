package org.abpn.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Test

class DelegationLogTest {
    private val log = listOf(
        "1795530000.100  4242  4300 I tflite  : Created TensorFlow Lite XNNPACK delegate for CPU.",
        "1795530000.120  4242  4300 I tflite  : Replacing 12 out of 12 node(s) with delegate (TfLiteXNNPackDelegate) node, yielding 1 partitions for the whole graph.",
        "1795530009.500  4242  4300 I tflite  : Replacing 10 out of 12 node(s) with delegate (TfLiteGpuDelegateV2) node, yielding 2 partitions for the whole graph.",
        "1795530009.600  4242  4300 I tflite  : Replacing 2 out of 2 node(s) with delegate (TfLiteXNNPackDelegate) node, yielding 2 partitions for the whole graph.",
    )

    @Test fun parsesLinesAfterTheStartTime() {
        val all = DelegationLog.parse(log, 0)
        assertEquals(3, all.size)
        assertEquals(DelegationLine(1795530009500, 10, 12, "TfLiteGpuDelegateV2", 2), all[1])
        assertEquals(2, DelegationLog.parse(log, 1795530009000).size)
    }

    @Test fun gpuTakesItsOwnLineAndTheRestIsNamedCpu() {
        val d = DelegationLog.summarize(Accelerator.GPU, DelegationLog.parse(log, 1795530009000), 12, 20.0, 100.0)
        assertEquals(10, d.delegatedNodes)
        assertEquals(12, d.totalNodes)
        assertTrue(d.evidence!!, d.evidence!!.contains("the other 2 node(s) ran on the CPU"))
    }

    @Test fun cpuUsesTheXnnpackLine() {
        val d = DelegationLog.summarize(Accelerator.CPU, DelegationLog.parse(log, 0).take(1), 12, 100.0, null)
        assertEquals(12, d.delegatedNodes)
    }

    @Test fun noLineAndCpuLikeTimingFlagsAFallback() {
        val d = DelegationLog.summarize(Accelerator.NNAPI, emptyList(), 12, 103.0, 100.0)
        assertNull(d.delegatedNodes)
        assertEquals(12, d.totalNodes)
        assertTrue(d.evidence!!, d.evidence!!.contains("likely CPU fallback"))
    }
}
