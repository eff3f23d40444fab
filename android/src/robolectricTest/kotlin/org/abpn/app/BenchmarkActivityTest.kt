package org.abpn.app

import android.app.Application
import android.content.ComponentName
import android.content.Intent
import android.database.Cursor
import android.net.Uri
import android.os.Binder
import android.os.Looper
import android.system.OsConstants
import org.abpn.core.Accelerator
import org.abpn.core.AmStartCommand
import org.abpn.core.RunState
import org.abpn.core.VisibilityLog
import org.abpn.app.ScriptedEngines.Behaviour
import org.json.JSONObject
import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertSame
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Before
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.Robolectric
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.Shadows.shadowOf
import org.robolectric.android.controller.ActivityController
import org.robolectric.shadows.ShadowApplication
import org.robolectric.shadows.ShadowBinder
import org.robolectric.shadows.ShadowOs
import org.robolectric.shadows.ShadowProcess
import java.io.File
import java.io.FileNotFoundException
import java.util.Properties
import java.util.UUID
import java.util.zip.ZipFile
import java.util.concurrent.CountDownLatch

/**
 * BenchmarkActivity as the host drives it: started with the intent of the host's own `am start`
 * command (tests/fixtures/am_start_benchmark.txt), results read back through the provider the way
 * `content query` / `content read` do, with the shell's uid. Everything is the app's real code
 * except the inference engine ([ScriptedEngines]).
 */
@RunWith(RobolectricTestRunner::class)
class BenchmarkActivityTest {
    private lateinit var app: Application
    private lateinit var work: File
    private lateinit var engines: ScriptedEngines
    private lateinit var serviceBinder: Binder
    private val previousFactory = Engines.factory

    private val fixture: AmStartCommand by lazy { AmStartCommand.parse(fixtureText()) }

    @Before fun setUp() {
        app = RuntimeEnvironment.getApplication()
        work = File(app.cacheDir, "data-local-tmp-abpn").apply { mkdirs() }
        val model = javaClass.getResourceAsStream("/tiny3ops.tflite")!!.use { it.readBytes() }
        val input = ByteArray(ScriptedEngines.BYTES) { (it % 7).toByte() }
        for ((key, bytes) in listOf("model" to model, "input" to input, "expected" to ScriptedEngines.expected(input))) {
            File(local(fixture.extras[key] as String)).writeBytes(bytes)
        }
        // The accelerator service, bound the way the app binds it (one instance stands for each fresh process).
        val service = Robolectric.setupService(AcceleratorService::class.java)
        serviceBinder = service.onBind(Intent(app, AcceleratorService::class.java)) as Binder
        shadowOf(app).setComponentNameAndServiceForBindService(ComponentName(app, AcceleratorService::class.java), serviceBinder)
        engines = ScriptedEngines(
            mapOf(Accelerator.CPU to Behaviour.OK, Accelerator.GPU to Behaviour.UNAVAILABLE, Accelerator.NNAPI to Behaviour.CRASHES,
                Accelerator.QNN_HTP to Behaviour.UNAVAILABLE),
        ) { serviceBinder }
        Engines.factory = engines
        Visibility.log = VisibilityLog()
        ShadowBinder.setCallingUid(ResultsProvider.SHELL_UID)
        Robolectric.setupContentProvider(ResultsProvider::class.java, "org.abpn.app.results")
    }

    @After fun tearDown() {
        if (::engines.isInitialized) engines.gate.let { while (it.count > 0) it.countDown() }
        Engines.factory = previousFactory
        ShadowBinder.reset()
        // The registry is process-wide: a run a failed test left "running" must not refuse the next test's.
        RunRegistry.forgetAll()
    }

    // --- the intent of the host's command line --------------------------------------------------

    private fun fixtureText(): String {
        // The test classes lie inside the repository (android/offline-out/...), as does the working
        // folder when run from a checkout: walk up from either to tests/fixtures.
        val name = "tests/fixtures/am_start_benchmark.txt"
        val starts = listOfNotNull(javaClass.getResource("/tiny3ops.tflite")?.let { File(it.toURI()) }, File("").absoluteFile)
        for (start in starts) {
            var dir: File? = start
            while (dir != null && !File(dir, name).isFile) dir = dir.parentFile
            if (dir != null) return File(dir, name).readText()
        }
        error("$name not found above $starts")
    }

    private fun local(phonePath: String): String = phonePath.replace("/data/local/tmp/abpn/", "${work.path}/")

    /** The fixture's intent, with its phone folder moved here and [changes] applied to the extras. */
    private fun intent(changes: Map<String, Any?> = emptyMap()): Intent {
        val (pkg, cls) = fixture.component.split('/')
        val intent = Intent().setComponent(ComponentName(pkg, if (cls.startsWith(".")) pkg + cls else cls))
        for ((k, v) in fixture.extras + changes) {
            when (v) {
                null -> {}
                is String -> intent.putExtra(k, if (v.startsWith("/data/local/tmp/abpn/")) local(v) else v)
                is Int -> intent.putExtra(k, v)
                is Boolean -> intent.putExtra(k, v)
                else -> error("extra $k: $v")
            }
        }
        return intent
    }

    /** Another run of the same request, without the fixture's 10 s cool-downs. */
    private fun freshRun(): Map<String, Any?> = mapOf("run_id" to UUID.randomUUID().toString(), "cooldown_s" to 0)

    /** Runs the main looper (service connections arrive there) until [done], as the phone would. */
    private fun idleUntil(what: String, timeoutMs: Long = 60_000, done: () -> Boolean) {
        val until = System.currentTimeMillis() + timeoutMs
        while (!done()) {
            check(System.currentTimeMillis() < until) { "timed out waiting for $what" }
            shadowOf(Looper.getMainLooper()).idle()
            Thread.sleep(10)
        }
        // The run's thread posts to the main looper just after it changes state (RunRegistry's
        // listeners): on a loaded machine that post can come after [done] turned true.
        repeat(5) { Thread.sleep(10); shadowOf(Looper.getMainLooper()).idle() }
    }

    /** The host's one query right after `am start -W` returned (PROTOCOL v3 §2), as printed. */
    private var firstAnswer = ""

    /** `am start -W` returns once the activity is drawn, and the host asks once (PROTOCOL v3 §2). */
    private fun start(intent: Intent): Pair<ActivityController<BenchmarkActivity>, String> {
        val runId = intent.getStringExtra("run_id")!!
        val controller = Robolectric.buildActivity(BenchmarkActivity::class.java, intent).setup()
        firstAnswer = contentQuery(runId)
        return controller to runId
    }

    private fun parseRow(printed: String): Map<String, String> =
        printed.removePrefix("Row: 0 ").split(", ").associate { it.substringBefore('=') to it.substringAfter('=') }

    /** The provider's row as column -> value, as the host parses `content query`. */
    private fun rowOf(runId: String): Map<String, String> = parseRow(contentQuery(runId))

    private fun finished(runId: String) = RunRegistry.get(runId).let { it != null && it.state != RunState.RUNNING }

    // --- what `content query` and `content read` print --------------------------------------------

    private fun contentQuery(runId: String): String {
        val c = app.contentResolver.query(Uri.parse("content://org.abpn.app.results/runs/$runId"), null, null, null, null)
        return render(c)
    }

    /** AOSP frameworks/base/cmds/content Content.java QueryCommand's printing. */
    private fun render(c: Cursor?): String {
        if (c == null || !c.moveToFirst()) return "No result found.".also { c?.close() }
        val rows = ArrayList<String>()
        var i = 0
        do {
            val cols = (0 until c.columnCount).joinToString(", ") { k ->
                val v = when (c.getType(k)) {
                    Cursor.FIELD_TYPE_NULL -> "NULL"
                    Cursor.FIELD_TYPE_INTEGER -> c.getLong(k).toString()
                    Cursor.FIELD_TYPE_FLOAT -> c.getFloat(k).toString()
                    Cursor.FIELD_TYPE_STRING -> c.getString(k)
                    else -> "BLOB"
                }
                "${c.getColumnName(k)}=$v"
            }
            rows.add("Row: ${i++} $cols")
        } while (c.moveToNext())
        c.close()
        return rows.joinToString("\n")
    }

    private fun contentRead(path: String): String =
        app.contentResolver.openInputStream(Uri.parse("content://org.abpn.app.results/runs/$path"))!!.use { it.readBytes().toString(Charsets.UTF_8) }

    // --- the tests ---------------------------------------------------------------------------------

    @Test fun theHostsIntentRunsEveryAcceleratorAndTheRecordIsReadableThroughTheProvider() {
        val (controller, runId) = start(intent())
        assertEquals("0f8c2f4e-6a1b-4c3d-9e8f-7a6b5c4d3e2f", runId)
        assertTrue(contentQuery(runId), contentQuery(runId).contains("state=running"))
        assertThrows(FileNotFoundException::class.java) { contentRead("$runId.json") }
        idleUntil("the run") { finished(runId) }

        assertTrue(controller.get().isFinishing)
        val row = contentQuery(runId)
        assertTrue(row, Regex("^Row: 0 run_id=$runId, state=done, pid=-?\\d+, progress=record written, updated_ms=\\d+, " +
            "provider_pid=-?\\d+, now_ms=\\d+, quiet_until_ms=NULL, rows_done=4, rows_total=4, started_ms=\\d+$").matches(row))
        val record = JSONObject(contentRead("$runId.json"))
        assertEquals(3, record.getInt("schema_version"))
        val results = record.getJSONArray("results")
        assertEquals(listOf("cpu" to "ok", "gpu" to "unsupported", "nnapi" to "failed", "qnn_htp" to "unsupported"),
            (0 until results.length()).map { results.getJSONObject(it).let { r -> r.getString("accelerator") to r.getString("status") } })

        val cpu = results.getJSONObject(0)
        assertTrue(cpu.getInt("runs") >= 20)
        assertTrue(cpu.getInt("warmup_runs") >= 3)
        val timing = cpu.getJSONObject("timing")
        assertTrue(timing.getDouble("warmup_ms") >= 500)
        // init = delegate creation + interpreter creation: the engine's 2 ms are the interpreter's part.
        assertEquals(2.0, timing.getDouble("interpreter_create_ms"), 1e-9)
        assertEquals(cpu.getDouble("init_ms"), timing.getDouble("delegate_create_ms") + 2.0, 1e-9)
        val native = cpu.getJSONArray("samples_ms")
        val wall = timing.getJSONArray("wall_samples_ms")
        assertEquals(native.length(), wall.length())
        // The headline is the runtime's own invoke time; the wall time of run() around it is longer.
        for (i in 0 until native.length()) assertTrue("$native vs $wall", native.getDouble(i) < wall.getDouble(i))
        assertEquals(true, cpu.getJSONObject("options").getBoolean("require_full_delegation"))
        assertTrue(cpu.getJSONObject("output_check").getBoolean("passed"))
        assertTrue(cpu.getJSONObject("conditions").getJSONObject("before").has("thermal_status"))
        // The measuring process: visible throughout, its cgroups (or why not), its memory from /proc/self/status.
        val process = cpu.getJSONObject("process")
        assertEquals(true, process.getBoolean("visible_throughout"))
        assertTrue(process.toString(), !process.isNull("cgroup") || !process.isNull("unreadable_reason"))
        val memory = cpu.getJSONObject("memory")
        assertEquals("/proc/self/status", memory.getString("source"))
        assertTrue(memory.toString(), memory.getLong("peak_rss_bytes") >= memory.getLong("rss_before_bytes"))
        assertEquals(true, cpu.getJSONObject("delegation").getBoolean("log_readable"))
        assertFalse(record.has("complete"))
        // The fixture's cooldown_s 10 before each accelerator after the first.
        assertTrue(results.getJSONObject(1).getJSONObject("conditions").getDouble("cooldown_waited_s") >= 10.0)
        assertEquals("no gpu on this test phone", results.getJSONObject(1).getString("reason"))

        val crash = results.getJSONObject(2).getJSONObject("crash")
        assertEquals(11, crash.getInt("signal"))
        assertEquals("SIGSEGV", crash.getString("signal_name"))
        assertTrue(results.getJSONObject(2).getString("reason").contains("the other accelerators are unaffected"))
    }

    @Test fun aSecondStartMakesASecondRecord() {
        val first = start(intent(freshRun())).second
        idleUntil("the first run") { finished(first) }
        val (controller, second) = start(intent(freshRun()))
        idleUntil("the second run") { finished(second) }
        assertTrue(controller.get().isFinishing)
        assertEquals(second, JSONObject(contentRead("$second.json")).getString("run_id"))
        assertEquals(first, JSONObject(contentRead("$first.json")).getString("run_id"))
    }

    @Test fun aRecreatedActivityReattachesToItsRun() {
        engines.gate = CountDownLatch(1)
        val (controller, runId) = start(intent(freshRun() + ("accelerators" to "cpu")))
        idleUntil("the cpu measurement") { engines.created.isNotEmpty() }
        val run = RunRegistry.get(runId)!!
        controller.recreate()
        assertSame(run, RunRegistry.get(runId))
        assertFalse(controller.get().isFinishing)
        engines.gate.countDown()
        idleUntil("the run") { finished(runId) }
        assertTrue(controller.get().isFinishing)
        assertEquals(listOf(Accelerator.CPU), engines.created.toList())
        assertEquals(1, JSONObject(contentRead("$runId.json")).getJSONArray("results").length())
    }

    @Test fun badExtrasGiveAnErrorFileNotACrash() {
        val (controller, runId) = start(intent(freshRun() + ("accelerators" to "cpu,tpu")))
        idleUntil("the refusal") { finished(runId) }
        assertTrue(controller.get().isFinishing)
        assertTrue(contentQuery(runId), contentQuery(runId).contains("state=error"))
        val error = JSONObject(contentRead("$runId.error.json"))
        assertEquals(runId, error.getString("run_id"))
        assertTrue(error.getString("error"), error.getString("error").contains("unknown accelerator 'tpu'"))
    }

    @Test fun anExceptionInOneAcceleratorIsItsFailedRow() {
        engines = ScriptedEngines(mapOf(Accelerator.CPU to Behaviour.OK, Accelerator.GPU to Behaviour.THROWS)) { serviceBinder }
        Engines.factory = engines
        val (_, runId) = start(intent(freshRun() + mapOf("accelerators" to "gpu,cpu", "require_full_delegation" to false)))
        idleUntil("the run") { finished(runId) }
        val results = JSONObject(contentRead("$runId.json")).getJSONArray("results")
        assertEquals("failed", results.getJSONObject(0).getString("status"))
        assertTrue(results.getJSONObject(0).getString("reason").contains("Failed to apply delegate"))
        assertEquals("ok", results.getJSONObject(1).getString("status"))
    }

    @Test fun whatADelegateTookIsReadBeforeTheTimedRunsRotateItOutOfTheLog() {
        engines = ScriptedEngines(mapOf(Accelerator.GPU to Behaviour.PARTIAL)) { serviceBinder }
        Engines.factory = engines
        val (_, runId) = start(intent(freshRun() + mapOf("accelerators" to "gpu", "require_full_delegation" to false)))
        idleUntil("the run") { finished(runId) }
        // The phone's other processes have logged through the timed runs: TFLite's lines are gone by now.
        assertFalse(engines.runtimeLog().toString(), engines.runtimeLog().any { "Replacing" in it })
        val gpu = JSONObject(contentRead("$runId.json")).getJSONArray("results").getJSONObject(0)
        assertEquals("ok", gpu.getString("status"))
        val delegation = gpu.getJSONObject("delegation")
        assertEquals(2, delegation.getInt("delegated_nodes"))
        assertEquals(3, delegation.getInt("total_nodes"))
        assertEquals("xnnpack", delegation.getString("fallback"))
        assertEquals("opencl", gpu.getJSONObject("options").getString("gpu_backend"))

        val (_, strict) = start(intent(freshRun() + mapOf("accelerators" to "gpu", "require_full_delegation" to true)))
        idleUntil("the strict run") { finished(strict) }
        val refused = JSONObject(contentRead("$strict.json")).getJSONArray("results").getJSONObject(0)
        assertEquals("failed", refused.getString("status"))
        assertEquals("delegated 2 of 3 nodes (require_full_delegation)", refused.getString("reason"))
    }

    @Test fun onSixteenKilobytePagesTheFourKilobyteTfliteLibraryIsUnsupportedNotACrash() {
        installApksTfliteLibrary()
        try {
            ShadowOs.setSysconfValue(OsConstants._SC_PAGESIZE, 16384)
            val (_, runId) = start(intent(freshRun() + ("accelerators" to "cpu,gpu")))
            idleUntil("the run") { finished(runId) }
            val results = JSONObject(contentRead("$runId.json")).getJSONArray("results")
            for (i in 0 until results.length()) {
                val row = results.getJSONObject(i)
                assertEquals("unsupported", row.getString("status"))
                assertTrue(row.getString("reason"), row.getString("reason").contains(
                    "uses 16 KB pages (16384 bytes) and this APK's libtensorflowlite_jni.so (LOAD alignment 4096) cannot load on it"))
            }
            assertTrue("no engine may be created: ${engines.created}", engines.created.isEmpty())

            ShadowOs.setSysconfValue(OsConstants._SC_PAGESIZE, 4096)
            val (_, smallPages) = start(intent(freshRun() + ("accelerators" to "cpu")))
            idleUntil("the 4 KB run") { finished(smallPages) }
            assertEquals("ok", JSONObject(contentRead("$smallPages.json")).getJSONArray("results").getJSONObject(0).getString("status"))
        } finally {
            ShadowOs.setSysconfValue(OsConstants._SC_PAGESIZE, -1)
        }
    }

    /** What the installer extracts (extractNativeLibs=true): the APK's own arm64 TFLite library, as the app's native library folder. */
    private fun installApksTfliteLibrary() {
        val libs = File(app.cacheDir, "lib-arm64").apply { mkdirs() }
        ZipFile(builtApk()).use { apk ->
            apk.getInputStream(apk.getEntry("lib/arm64-v8a/libtensorflowlite_jni.so")).use { input ->
                File(libs, "libtensorflowlite_jni.so").outputStream().use { input.copyTo(it) }
            }
        }
        app.applicationInfo.nativeLibraryDir = libs.path
    }

    /** The unsigned APK that build-offline hands Robolectric (test_config.properties). */
    private fun builtApk(): File {
        val config = Properties()
        javaClass.getResourceAsStream("/com/android/tools/test_config.properties")!!.use { config.load(it) }
        return File(config.getProperty("android_resource_apk"))
    }

    @Test fun eachAcceleratorIsMeasuredInAFreshProcess() {
        val (_, runId) = start(intent(freshRun() + ("accelerators" to "cpu,gpu")))
        idleUntil("the run") { finished(runId) }
        // The last client unbinding a BIND_AUTO_CREATE service destroys it, which ends its process (next test).
        assertEquals(2, shadowOf(app).unboundServiceConnections.size)
        assertTrue(shadowOf(app).boundServiceConnections.isEmpty())
    }

    @Test fun theAcceleratorProcessEndsWhenItsServiceIsDestroyedAndTheMainOneDoesNot() {
        ShadowProcess.setPid(4321)
        ShadowApplication.setProcessName("org.abpn.app:accelerator")
        Robolectric.buildService(AcceleratorService::class.java).create().destroy()
        assertTrue(ShadowProcess.wasKilled(4321))

        ShadowProcess.clearKilledProcesses()
        ShadowApplication.setProcessName("org.abpn.app")
        Robolectric.buildService(AcceleratorService::class.java).create().destroy()
        assertFalse(ShadowProcess.wasKilled(4321))
    }

    @Test fun aRunThatNeverStartedHasNoRow() {
        assertEquals("No result found.", contentQuery(UUID.randomUUID().toString()))
    }

    @Test fun onlyTheShellMayReadResults() {
        val (_, runId) = start(intent(freshRun() + ("accelerators" to "gpu")))
        idleUntil("the run") { finished(runId) }
        ShadowBinder.setCallingUid(10_123)
        assertThrows(SecurityException::class.java) { contentQuery(runId) }
        assertThrows(SecurityException::class.java) { contentRead("$runId.json") }
        ShadowBinder.setCallingUid(0)
        assertNotNull(contentRead("$runId.json"))
    }

    @Test fun theManifestLetsOnlyTheShellInAndIsolatesAccelerators() {
        val pm = app.packageManager
        assertEquals("android.permission.DUMP", pm.getActivityInfo(ComponentName(app, BenchmarkActivity::class.java), 0).permission)
        val provider = pm.getProviderInfo(ComponentName(app, ResultsProvider::class.java), 0)
        assertEquals("android.permission.DUMP", provider.readPermission)
        assertEquals("org.abpn.app.results", provider.authority)
        val service = pm.getServiceInfo(ComponentName(app, AcceleratorService::class.java), 0)
        assertEquals("org.abpn.app:accelerator", service.processName)
        assertFalse(service.exported)
    }

    // --- issue 17 -----------------------------------------------------------------------------------

    /** Waits as the host does (PROTOCOL v3 §2): until quiet_until_ms + 1 s, then backs off, then reads. */
    private fun hostWaitsForTheRecord(runId: String, firstRow: Map<String, String>): JSONObject {
        var backoff = 1000L
        val until = System.currentTimeMillis() + 120_000
        var row = firstRow
        while (true) {
            check(System.currentTimeMillis() < until) { "the run never ended" }
            if (row["state"] != "running") break
            val quiet = row["quiet_until_ms"]!!.toLongOrNull()
            val now = row["now_ms"]!!.toLong()
            val wait = if (quiet != null && quiet > now) quiet - now + 1000 else backoff.also { backoff = Math.min(backoff * 2, 15_000) }
            idleUntil("the host's next look", timeoutMs = wait + 5000) { System.currentTimeMillis() >= now + wait }
            row = rowOf(runId)
        }
        return JSONObject(contentRead("$runId.json"))
    }

    @Test fun aHostThatKeepsQuietIsCountedZeroAndACallDuringAMeasurementIsCounted() {
        // The first window is a guess (3 s of init plus the minimum durations); a JVM that still has to
        // load the service's classes under a loaded machine can outlast it, an app that ran once cannot.
        val (_, warm) = start(intent(freshRun() + ("accelerators" to "cpu")))
        idleUntil("the warm-up run") { finished(warm) }
        val (_, quiet) = start(intent(freshRun() + ("accelerators" to "cpu,gpu")))
        // Only the one query after `am start`: a second one could already fall into the measurement.
        val first = parseRow(firstAnswer)
        assertEquals("running", first["state"])
        assertEquals(first["pid"], first["provider_pid"])
        assertTrue(first.toString(), first["quiet_until_ms"]!!.toLong() > first["now_ms"]!!.toLong())
        assertEquals("0" to "2", first["rows_done"] to first["rows_total"])
        val record = hostWaitsForTheRecord(quiet, first)
        assertEquals(0, record.getJSONObject("conditions").getInt("host_commands_during_runs"))
        assertEquals(listOf("ok", "unsupported"), (0 until 2).map { record.getJSONArray("results").getJSONObject(it).getString("status") })

        // A host that polls while the CPU measures: each of its calls is counted.
        engines.gate = CountDownLatch(1)
        val (_, noisy) = start(intent(freshRun() + ("accelerators" to "cpu")))
        idleUntil("the cpu measurement") { engines.created.size == 4 }
        contentQuery(noisy)
        assertThrows(FileNotFoundException::class.java) { contentRead("$noisy.json") }
        engines.gate.countDown()
        idleUntil("the run") { finished(noisy) }
        assertEquals(2, JSONObject(contentRead("$noisy.json")).getJSONObject("conditions").getInt("host_commands_during_runs"))
    }

    @Test fun aHungAcceleratorIsKilledAfterItsTimeoutAndTheRecordIsWrittenAfterEveryRow() {
        engines = ScriptedEngines(mapOf(Accelerator.CPU to Behaviour.OK, Accelerator.NNAPI to Behaviour.HANGS)) { serviceBinder }
        Engines.factory = engines
        ShadowProcess.setPid(ScriptedEngines.ACCELERATOR_PID)
        engines.gate = CountDownLatch(1)
        val (_, runId) = start(intent(freshRun() + mapOf("accelerators" to "nnapi,cpu", "accelerator_timeout_s" to 2)))
        idleUntil("the cpu measurement after the hang") { engines.created.size == 2 }
        assertTrue("the hung process was not killed", ShadowProcess.wasKilled(ScriptedEngines.ACCELERATOR_PID))
        // The host that gives up now still gets the finished row.
        val partial = JSONObject(contentRead("$runId.json"))
        assertEquals(false, partial.getBoolean("complete"))
        assertEquals("1 of 2 accelerators measured; the run is still going", partial.getString("incomplete_reason"))
        val hung = partial.getJSONArray("results").getJSONObject(0)
        assertEquals("failed", hung.getString("status"))
        assertEquals("timed out after 2 s (the accelerator's process was killed)", hung.getString("reason"))
        assertEquals("1", rowOf(runId)["rows_done"])
        engines.gate.countDown()
        idleUntil("the run") { finished(runId) }
        val record = JSONObject(contentRead("$runId.json"))
        assertFalse(record.has("complete"))
        assertEquals("ok", record.getJSONArray("results").getJSONObject(1).getString("status"))
    }

    @Test fun anAppRestartedByTheProviderAnswersWithTheRunsOldPid() {
        engines.gate = CountDownLatch(1)
        val (_, runId) = start(intent(freshRun() + ("accelerators" to "cpu")))
        idleUntil("the cpu measurement") { engines.created.isNotEmpty() }
        val before = rowOf(runId)
        // The main process dies; the host's next `content` call starts a new one through the provider,
        // which has nothing in memory.
        RunRegistry.forgetAll()
        ShadowProcess.setPid(ScriptedEngines.MAIN_PID)
        val after = rowOf(runId)
        assertEquals("running", after["state"])
        assertEquals(before["pid"], after["pid"])
        assertEquals(ScriptedEngines.MAIN_PID.toString(), after["provider_pid"])
        assertEquals(before["started_ms"], after["started_ms"])
        assertEquals("NULL", after["quiet_until_ms"])
        engines.gate.countDown()
    }

    @Test fun aRowTimedWhileTheActivityWasStoppedIsInvalid() {
        engines.gate = CountDownLatch(1)
        val (controller, runId) = start(intent(freshRun() + ("accelerators" to "cpu")))
        assertTrue("shown over the keyguard", shadowOf(controller.get()).showWhenLocked)
        assertTrue("turns the screen on", shadowOf(controller.get()).turnScreenOn)
        idleUntil("the cpu measurement") { engines.created.isNotEmpty() }
        // HOME pressed (or the screen locked) before the timed runs.
        controller.pause().stop()
        engines.gate.countDown()
        idleUntil("the run") { finished(runId) }
        val cpu = JSONObject(contentRead("$runId.json")).getJSONArray("results").getJSONObject(0)
        assertEquals("invalid", cpu.getString("status"))
        assertTrue(cpu.getString("reason"), cpu.getString("reason").startsWith("the app was not visible during the timed runs"))
        assertEquals(false, cpu.getJSONObject("process").getBoolean("visible_throughout"))
        assertTrue(cpu.has("samples_ms"))
    }

    @Test fun theAcceleratorServiceIsBoundImportantSoItGetsTheVisibleAppsSchedulingGroup() {
        val flags = java.util.concurrent.CopyOnWriteArrayList<Int>()
        val recording = object : android.content.ContextWrapper(app) {
            override fun bindService(service: Intent, conn: android.content.ServiceConnection, f: Int): Boolean {
                flags.add(f); return super.bindService(service, conn, f)
            }
        }
        val request = org.abpn.core.BenchRequest.parse(intent(freshRun() + ("accelerators" to "cpu")).extras!!.let { b ->
            b.keySet().associateWith { k -> @Suppress("DEPRECATION") b.get(k) }
        })
        var outcome: Outcome? = null
        Thread { outcome = AcceleratorClient(recording).measure(AcceleratorJob(request, Accelerator.CPU, 3, false), 30_000) }.start()
        idleUntil("the measurement") { outcome != null }
        assertTrue(outcome is Outcome.Measured)
        assertEquals(listOf(android.content.Context.BIND_AUTO_CREATE or android.content.Context.BIND_IMPORTANT), flags.toList())
    }

    @Test fun aMutedLogIsToldApartFromNoDelegation() {
        engines = ScriptedEngines(mapOf(Accelerator.GPU to Behaviour.OK), mutedLog = true) { serviceBinder }
        Engines.factory = engines
        val (_, runId) = start(intent(freshRun() + mapOf("accelerators" to "gpu", "require_full_delegation" to true)))
        idleUntil("the run") { finished(runId) }
        val gpu = JSONObject(contentRead("$runId.json")).getJSONArray("results").getJSONObject(0)
        // Measured, not failed: nothing says the delegate refused anything.
        assertEquals("ok", gpu.getString("status"))
        val delegation = gpu.getJSONObject("delegation")
        assertEquals(false, delegation.getBoolean("log_readable"))
        assertTrue(delegation.isNull("delegated_nodes"))
        assertTrue(gpu.getString("notes"), gpu.getString("notes").contains("require_full_delegation was not checked"))
    }

    @Test fun benchmarkModelsDefaultsReachTheRuntimeAndTheFlagsChooseOtherwise() {
        val (_, plain) = start(intent(freshRun() + mapOf("accelerators" to "gpu", "threads" to null)))
        idleUntil("the run") { finished(plain) }
        assertEquals(-1 to GpuSettings(sustainedSpeed = false, compatibilityList = false), engines.asked.last())
        val (_, flagged) = start(intent(freshRun() + mapOf(
            "accelerators" to "gpu", "gpu_inference_for_sustained_speed" to true, "gpu_compatibility_list" to true)))
        idleUntil("the run") { finished(flagged) }
        assertEquals(4 to GpuSettings(sustainedSpeed = true, compatibilityList = true), engines.asked.last())
    }

    @Test fun onAndroid16SixteenKilobytePagesAreTriedInBackcompatModeNotRefused() {
        installApksTfliteLibrary()
        val sdk = android.os.Build.VERSION.SDK_INT
        try {
            ShadowOs.setSysconfValue(OsConstants._SC_PAGESIZE, 16384)
            org.robolectric.util.ReflectionHelpers.setStaticField(android.os.Build.VERSION::class.java, "SDK_INT", 36)
            val (_, runId) = start(intent(freshRun() + ("accelerators" to "cpu")))
            idleUntil("the run") { finished(runId) }
            val cpu = JSONObject(contentRead("$runId.json")).getJSONArray("results").getJSONObject(0)
            assertEquals("ok", cpu.getString("status"))
            assertTrue(cpu.getString("notes"), cpu.getString("notes").contains("Android 16's 16 KB backcompat mode"))
            assertEquals(listOf(Accelerator.CPU), engines.created.toList())
        } finally {
            org.robolectric.util.ReflectionHelpers.setStaticField(android.os.Build.VERSION::class.java, "SDK_INT", sdk)
            ShadowOs.setSysconfValue(OsConstants._SC_PAGESIZE, -1)
        }
    }
}
