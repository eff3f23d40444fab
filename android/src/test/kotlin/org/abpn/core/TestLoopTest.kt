package org.abpn.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertTrue
import org.junit.Test

class TestLoopTest {
    private fun run(scenario: Int?, qnn: Boolean) = TestLoop.plan(scenario, qnn) as TestLoop.Plan.Run
    private fun refused(scenario: Int?, qnn: Boolean) = TestLoop.plan(scenario, qnn) as TestLoop.Plan.Refused

    @Test fun eachScenarioIsAnAcceleratorSet() {
        assertEquals(listOf(Accelerator.CPU), run(1, true).accelerators)
        assertEquals(listOf(Accelerator.GPU), run(2, false).accelerators)
        assertEquals(listOf(Accelerator.NNAPI), run(3, false).accelerators)
        assertEquals(listOf(Accelerator.QNN_HTP), run(4, true).accelerators)
        assertEquals(listOf(Accelerator.CPU, Accelerator.GPU, Accelerator.NNAPI, Accelerator.QNN_HTP), run(5, true).accelerators)
        // "All of them" means all that this build has: the CPU first, as push-and-bench orders them.
        assertEquals(listOf(Accelerator.CPU, Accelerator.GPU, Accelerator.NNAPI), run(5, false).accelerators)
    }

    @Test fun theBuildWithoutQnnRefusesScenarioFourAndSaysWhy() {
        val r = refused(4, false)
        assertEquals(4, r.scenario)
        assertTrue(r.reason, r.reason.contains("built without the QNN runtime"))
        assertTrue(r.reason, r.reason.contains("scenarios 1-3,5 only"))
    }

    @Test fun unknownOrMissingScenariosAreRefusedWithTheChoices() {
        val unknown = refused(9, true)
        assertEquals(9, unknown.scenario)
        assertTrue(unknown.reason, unknown.reason.startsWith("unknown scenario 9: use 1 cpu, 2 gpu, 3 nnapi, 4 qnn_htp, 5 all"))
        assertFalse(refused(-1, false).reason.contains("qnn_htp"))
        // Test Lab's own sample reads getIntExtra("scenario", 0): 0 is "none given".
        assertTrue(refused(0, true).reason.startsWith("no scenario in the intent"))
        assertEquals(null, refused(null, true).scenario)
    }

    @Test fun manifestLabelsUseTestLabsRangeSyntax() {
        assertEquals("1-5", TestLoop.ranges(TestLoop.runnable(true)))
        assertEquals("1-3,5", TestLoop.ranges(TestLoop.runnable(false)))
        assertEquals("1-4", TestLoop.ranges(TestLoop.single(true)))
        assertEquals("1-3", TestLoop.ranges(TestLoop.single(false)))
        assertEquals("1,3,5-7", TestLoop.ranges(listOf(7, 1, 5, 3, 6)))
    }

    @Test fun aRefusedRunIsAnIncompleteRecordWithNoRows() {
        val source = TestLoopRecord.source(LoopSource.TEST_LAB, 9, "org.abpn.app 0.1.0")
        val record = TestLoopRecord.refused(
            "0f8c2a4e-1b2c-4d5e-8f90-123456789abc", 0L, SampleRecords.ok().device, SampleRecords.ok().model,
            SampleRecords.ok().app, refused(9, false).reason, source,
        )
        assertEquals(emptyList<Any>(), record["results"])
        assertEquals(false, record["complete"])
        assertTrue((record["incomplete_reason"] as String).startsWith("unknown scenario 9"))
        assertEquals(mapOf("kind" to "test-lab", "runner" to "org.abpn.app 0.1.0", "scenario" to 9), record["source"])
        // Out of the schema's 1..1000: kept out of the record rather than making it invalid.
        assertEquals(null, TestLoopRecord.source(LoopSource.TEST_LOOP, 0, "x")["scenario"])
    }

    @Test fun aMeasuredRecordKeepsEverythingAndGainsItsSource() {
        val base = SampleRecords.ok().toJsonMap()
        val record = TestLoopRecord.measured(base, TestLoopRecord.source(LoopSource.TEST_LOOP, 1, "org.abpn.app 0.1.0"))
        assertEquals(base, record - "source")
        assertEquals("test-loop", (record["source"] as Map<*, *>)["kind"])
    }
}
