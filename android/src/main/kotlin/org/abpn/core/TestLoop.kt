package org.abpn.core

/**
 * The app as a Firebase Test Lab game loop (https://firebase.google.com/docs/test-lab/android/game-loop):
 * Test Lab, or `adb shell am start -a com.google.intent.action.TEST_LOOP`, starts the loop activity
 * with an int extra `scenario` and a data URI that the loop writes its result record to.
 *
 * Test Lab numbers a build's loops 1..N from the manifest's `com.google.test.loops` = N. The numbers
 * mean the same accelerators in every build, so that results of several builds compare:
 * 1 cpu, 2 gpu, 3 nnapi, 4 qnn_htp, 5 every accelerator the build has. Both builds therefore declare
 * N = 5 ("all" must stay 5); the build without QNN leaves 4 out of its "runnable" label and answers
 * scenario 4 with a record that says why instead of measuring anything.
 */
object TestLoop {
    const val ACTION = "com.google.intent.action.TEST_LOOP"
    const val SCENARIO_EXTRA = "scenario"
    const val LOOPS = 5
    /** Test Lab's `com.google.test.loops.<label>` metadata; gcloud's --scenario-labels takes either form. */
    const val LABEL_PREFIX = "com.google.test.loops."
    const val RUNNABLE_LABEL = "abpn_runnable"
    const val SINGLE_LABEL = "abpn_single"
    const val ALL_LABEL = "abpn_all"

    private val SINGLE = mapOf(1 to Accelerator.CPU, 2 to Accelerator.GPU, 3 to Accelerator.NNAPI, 4 to Accelerator.QNN_HTP)
    const val ALL = 5

    sealed class Plan {
        data class Run(val scenario: Int, val accelerators: List<Accelerator>) : Plan()

        /** Nothing is measured; the record carries [reason] as its incomplete_reason. */
        data class Refused(val scenario: Int?, val reason: String) : Plan()
    }

    /** The accelerators of [scenario] in a build with ([qnnBuilt]) or without the QNN runtime. */
    fun plan(scenario: Int?, qnnBuilt: Boolean): Plan {
        val hint = "use 1 cpu, 2 gpu, 3 nnapi, ${if (qnnBuilt) "4 qnn_htp, " else ""}5 all (am start ... --ei $SCENARIO_EXTRA N)"
        return when {
            scenario == null || scenario == 0 -> Plan.Refused(null, "no scenario in the intent: $hint")
            scenario == 4 && !qnnBuilt -> Plan.Refused(
                4, "scenario 4 (qnn_htp) needs the APK built with QNN; this APK was built without the QNN runtime " +
                    "(the noqnn variant), so it offers scenarios ${ranges(runnable(false))} only",
            )
            scenario == ALL -> Plan.Run(ALL, SINGLE.keys.sorted().filter { it in runnable(qnnBuilt) }.map { SINGLE.getValue(it) })
            scenario in SINGLE -> Plan.Run(scenario, listOf(SINGLE.getValue(scenario)))
            else -> Plan.Refused(scenario, "unknown scenario $scenario: $hint")
        }
    }

    fun runnable(qnnBuilt: Boolean): List<Int> = (1..LOOPS).filter { qnnBuilt || it != 4 }

    /** The scenarios that measure one accelerator each. */
    fun single(qnnBuilt: Boolean): List<Int> = runnable(qnnBuilt).filter { it != ALL }

    /** Test Lab's label syntax for a set of scenario numbers: "1-3,5". */
    fun ranges(numbers: List<Int>): String {
        val parts = ArrayList<String>()
        var i = 0
        val sorted = numbers.distinct().sorted()
        while (i < sorted.size) {
            var j = i
            while (j + 1 < sorted.size && sorted[j + 1] == sorted[j] + 1) j++
            parts.add(if (j > i) "${sorted[i]}-${sorted[j]}" else "${sorted[i]}")
            i = j + 1
        }
        return parts.joinToString(",")
    }
}

/** Who started the loop: Test Lab (its devices set the system setting firebase.test.lab) or a person with adb. */
enum class LoopSource(val id: String) { TEST_LAB("test-lab"), TEST_LOOP("test-loop") }

/**
 * The records a loop writes: the runner's record with `source` added, or, when nothing could be
 * measured, a record with no result rows whose `incomplete_reason` says why (schema v3 allows an
 * empty `results` only with `complete: false`). Test Lab runs with no host attached, so the record
 * stands alone: the device, the build, the model and every timing are in it.
 */
object TestLoopRecord {
    fun source(kind: LoopSource, scenario: Int?, runner: String): Map<String, Any?> = linkedMapOf(
        "kind" to kind.id,
        "runner" to clip(runner, 200),
        "scenario" to scenario?.takeIf { it in 1..1000 },
    )

    fun measured(record: Map<String, Any?>, source: Map<String, Any?>): Map<String, Any?> =
        LinkedHashMap(record).apply { put("source", source) }

    fun refused(
        runId: String,
        createdAtMillis: Long,
        device: DeviceInfo,
        model: ModelInfo,
        app: AppInfo,
        reason: String,
        source: Map<String, Any?>,
    ): Map<String, Any?> = linkedMapOf(
        "schema_version" to ResultRecord.SCHEMA_VERSION,
        "run_id" to runId,
        "created_at" to ResultRecord.rfc3339(createdAtMillis),
        "device" to device.toJsonMap(),
        "model" to model.toJsonMap(),
        "app" to app.toJsonMap(),
        "results" to emptyList<Any>(),
        "conditions" to Conditions(null, null, null, null).toJsonMap(),
        "complete" to false,
        "incomplete_reason" to clip(reason.ifEmpty { "no reason given" }, 2000),
        "source" to source,
    )
}
