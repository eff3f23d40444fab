package org.abpn.core

import java.io.File

/**
 * The two records a game loop writes, built by the phone's code: a measured one from Test Lab and a
 * refused one (an unknown scenario). build-offline writes them beside SampleRecords' files, where
 * validate_records.py and tests/test_test_lab.py validate them against the schema.
 */
object TestLoopSamples {
    fun lab(): Map<String, Any?> =
        TestLoopRecord.measured(SampleRecords.ok().toJsonMap(), TestLoopRecord.source(LoopSource.TEST_LAB, 5, "org.abpn.app 0.1.0"))

    fun refused(): Map<String, Any?> {
        val ok = SampleRecords.ok()
        return TestLoopRecord.refused(
            "3f8c2a4e-1b2c-4d5e-8f90-123456789abc", 1795532400123L, ok.device, ok.model, ok.app,
            (TestLoop.plan(9, false) as TestLoop.Plan.Refused).reason, TestLoopRecord.source(LoopSource.TEST_LOOP, 9, "org.abpn.app 0.1.0"),
        )
    }

    @JvmStatic
    fun main(args: Array<String>) {
        require(args.size == 1) { "usage: TestLoopSamples <output folder>" }
        val dir = File(args[0]).apply { mkdirs() }
        File(dir, "test-loop-lab.json").writeText(Json.encode(lab()))
        File(dir, "test-loop-refused.json").writeText(Json.encode(refused()))
        println("wrote 2 game-loop records to $dir")
    }
}
