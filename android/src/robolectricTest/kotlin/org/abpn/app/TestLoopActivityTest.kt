package org.abpn.app

import android.app.Application
import android.content.ComponentName
import android.content.ContentProvider
import android.content.ContentValues
import android.content.Intent
import android.content.pm.PackageManager
import android.database.Cursor
import android.net.Uri
import android.os.Binder
import android.os.Looper
import android.os.ParcelFileDescriptor
import android.provider.Settings
import org.abpn.app.ScriptedEngines.Behaviour
import org.abpn.core.Accelerator
import org.abpn.core.TfliteModelFile
import org.json.JSONObject
import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertTrue
import org.junit.Before
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.Robolectric
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.Shadows.shadowOf
import org.robolectric.android.controller.ActivityController
import java.io.File
import java.nio.ByteBuffer
import java.util.concurrent.CountDownLatch

/**
 * The game loop as Test Lab starts it (firebase.google.com/docs/test-lab/android/game-loop): action
 * com.google.intent.action.TEST_LOOP, type application/javascript, an int extra "scenario" and a data
 * URI whose file the loop writes with ContentResolver.openAssetFileDescriptor(uri, "w"), served here by
 * [LoopResultsProvider]. The app's real runner, service and record code; the engine is [ScriptedEngines].
 * Robolectric runs the build without QNN.
 */
@RunWith(RobolectricTestRunner::class)
class TestLoopActivityTest {
    private lateinit var app: Application
    private lateinit var outDir: File
    private lateinit var serviceBinder: Binder
    private val previousFactory = Engines.factory
    private val previousSource = LoopAssets.source

    @Before fun setUp() {
        app = RuntimeEnvironment.getApplication()
        val work = File(app.cacheDir, "loop-files").apply { mkdirs() }
        val tiny = javaClass.getResourceAsStream("/tiny3ops.tflite")!!.use { it.readBytes() }
        val model = File(work, "tiny3ops.tflite").apply { writeBytes(tiny) }
        val inputBytes = ByteArray(ScriptedEngines.BYTES) { (it % 5).toByte() }
        val input = File(work, "in.bin").apply { writeBytes(inputBytes) }
        val expected = File(work, "expected.bin").apply { writeBytes(ScriptedEngines.expected(inputBytes)) }
        // The APK's own model is ABPN's 1x360x640x3; the engine double speaks tiny3ops' tensors.
        LoopAssets.source = { LoopFiles(model, input, expected) }
        outDir = File(app.cacheDir, "test-lab-results").apply { deleteRecursively(); mkdirs() }
        LoopResultsProvider.dir = outDir
        Robolectric.setupContentProvider(LoopResultsProvider::class.java, LoopResultsProvider.AUTHORITY)
        val service = Robolectric.setupService(AcceleratorService::class.java)
        serviceBinder = service.onBind(Intent(app, AcceleratorService::class.java)) as Binder
        shadowOf(app).setComponentNameAndServiceForBindService(ComponentName(app, AcceleratorService::class.java), serviceBinder)
        install(mapOf(Accelerator.CPU to Behaviour.OK, Accelerator.GPU to Behaviour.OK, Accelerator.NNAPI to Behaviour.CRASHES))
    }

    @After fun tearDown() {
        // A test that failed with its gate closed must not leave a run holding the registry for the next one.
        (Engines.factory as? ScriptedEngines)?.gate?.let { while (it.count > 0) it.countDown() }
        Engines.factory = previousFactory
        LoopAssets.source = previousSource
        Settings.System.putString(app.contentResolver, "firebase.test.lab", null)
    }

    private fun install(script: Map<Accelerator, Behaviour>): ScriptedEngines =
        ScriptedEngines(script) { serviceBinder }.also { Engines.factory = it }

    /** The intent Test Lab sends for [scenario], results going to results_scenario_N.json through a content URI. */
    private fun loopIntent(scenario: Int): Intent =
        Intent("com.google.intent.action.TEST_LOOP")
            .setDataAndType(Uri.parse("content://${LoopResultsProvider.AUTHORITY}/results_scenario_$scenario.json"), "application/javascript")
            .setComponent(ComponentName(app, TestLoopActivity::class.java))
            .putExtra("scenario", scenario)

    private fun runLoop(intent: Intent): Pair<ActivityController<TestLoopActivity>, JSONObject> {
        val controller = Robolectric.buildActivity(TestLoopActivity::class.java, intent).setup()
        val file = File(outDir, intent.data!!.lastPathSegment!!)
        val until = System.currentTimeMillis() + 60_000
        while (!(controller.get().isFinishing && file.length() > 0)) {
            check(System.currentTimeMillis() < until) { "the loop neither wrote $file nor finished" }
            shadowOf(Looper.getMainLooper()).idle()
            Thread.sleep(10)
        }
        return controller to JSONObject(file.readText())
    }

    private fun rows(record: JSONObject): List<Pair<String, String>> {
        val results = record.getJSONArray("results")
        return (0 until results.length()).map { results.getJSONObject(it).let { r -> r.getString("accelerator") to r.getString("status") } }
    }

    @Test fun testLabsIntentWithAScenarioWritesAValidRecordToItsUriAndFinishes() {
        Settings.System.putString(app.contentResolver, "firebase.test.lab", "true")
        val (controller, record) = runLoop(loopIntent(1))
        assertTrue(controller.get().isFinishing)
        assertEquals(3, record.getInt("schema_version"))
        assertEquals(listOf("cpu" to "ok"), rows(record))
        val cpu = record.getJSONArray("results").getJSONObject(0)
        // The same rules as push-and-bench: benchmark_model's minimum counts and durations, the output checked.
        assertTrue(cpu.getInt("runs") >= 20)
        assertTrue(cpu.getInt("warmup_runs") >= 3)
        assertTrue(cpu.getJSONObject("output_check").getBoolean("passed"))
        assertTrue(cpu.getJSONObject("conditions").getJSONObject("before").has("battery_temp_c"))
        val source = record.getJSONObject("source")
        assertEquals("test-lab", source.getString("kind"))
        assertEquals(1, source.getInt("scenario"))
        assertEquals("org.abpn.app", source.getString("runner").substringBefore(' '))
        // Standing alone: the phone and the model are in the record, no host adds them.
        assertTrue(record.getJSONObject("device").has("model"))
        assertEquals(64, record.getJSONObject("model").getString("sha256").length)
        assertFalse(record.has("complete"))
        // Also kept where `content read` finds any run's record.
        assertTrue(File(ResultFiles.resultsDir(app), record.getString("run_id") + ".json").isFile)
    }

    @Test fun startedByHandItIsATestLoopNotTestLab() {
        val (_, record) = runLoop(loopIntent(2))
        assertEquals("test-loop", record.getJSONObject("source").getString("kind"))
        assertEquals(listOf("gpu" to "ok"), rows(record))
    }

    @Test fun anUnknownScenarioWritesARecordWhoseStateSaysWhy() {
        val engines = install(mapOf(Accelerator.CPU to Behaviour.OK))
        val (controller, record) = runLoop(loopIntent(9))
        assertTrue(controller.get().isFinishing)
        assertEquals(0, record.getJSONArray("results").length())
        assertEquals(false, record.getBoolean("complete"))
        assertTrue(record.getString("incomplete_reason"), record.getString("incomplete_reason").startsWith("unknown scenario 9: use 1 cpu"))
        assertEquals(9, record.getJSONObject("source").getInt("scenario"))
        // The record still names the model the loop would have run.
        assertEquals("tiny3ops.tflite", record.getJSONObject("model").getString("file_name"))
        assertTrue("nothing may run: ${engines.created}", engines.created.isEmpty())
    }

    @Test fun theBuildWithoutQnnAnswersScenarioFourWithWhy() {
        val (_, record) = runLoop(loopIntent(4))
        assertEquals(0, record.getJSONArray("results").length())
        assertTrue(record.getString("incomplete_reason"), record.getString("incomplete_reason").contains("built without the QNN runtime"))
    }

    @Test fun aCrashingAcceleratorCostsOnlyItsRow() {
        val (_, record) = runLoop(loopIntent(5))
        assertEquals(listOf("cpu" to "ok", "gpu" to "ok", "nnapi" to "failed"), rows(record))
        val nnapi = record.getJSONArray("results").getJSONObject(2)
        assertEquals("SIGSEGV", nnapi.getJSONObject("crash").getString("signal_name"))
        assertTrue(nnapi.getString("reason"), nnapi.getString("reason").contains("the other accelerators are unaffected"))
        assertEquals(5, record.getJSONObject("source").getInt("scenario"))
    }

    @Test fun aRecreatedScreenStartsNoSecondLoopAndIsFinishedWhenTheLoopEnds() {
        val engines = install(mapOf(Accelerator.CPU to Behaviour.OK))
        engines.gate = CountDownLatch(1)
        val intent = loopIntent(1)
        val controller = Robolectric.buildActivity(TestLoopActivity::class.java, intent).setup()
        val until = System.currentTimeMillis() + 60_000
        while (engines.created.isEmpty()) {
            check(System.currentTimeMillis() < until) { "the cpu measurement never started" }
            shadowOf(Looper.getMainLooper()).idle()
            Thread.sleep(10)
        }
        controller.recreate()
        assertFalse(controller.get().isFinishing)
        engines.gate.countDown()
        val file = File(outDir, intent.data!!.lastPathSegment!!)
        while (!(controller.get().isFinishing && file.length() > 0)) {
            check(System.currentTimeMillis() < until) { "the recreated screen was not finished" }
            shadowOf(Looper.getMainLooper()).idle()
            Thread.sleep(10)
        }
        assertEquals(listOf(Accelerator.CPU), engines.created.toList())
        assertEquals(listOf("cpu" to "ok"), rows(JSONObject(file.readText())))
    }

    @Test fun theLoopRefusesToOverwriteTheAppsOwnFiles() {
        val own = Uri.fromFile(File(app.filesDir, "results/x.json"))
        assertTrue(TestLoopRun.refusal(app, own)!!.contains("private storage"))
        assertTrue(TestLoopRun.refusal(app, Uri.parse("content://org.abpn.app.results/runs/x.json"))!!.contains("own provider"))
        assertEquals(null, TestLoopRun.refusal(app, loopIntent(1).data!!))
    }

    @Test fun theManifestDeclaresTheLoopsAsTestLabReadsThem() {
        val pm = app.packageManager
        val query = Intent("com.google.intent.action.TEST_LOOP").addCategory(Intent.CATEGORY_DEFAULT)
            .setType("application/javascript").setPackage(app.packageName)
        val found = pm.queryIntentActivities(query, 0).map { it.activityInfo.name }
        assertEquals(listOf(TestLoopActivity::class.java.name), found)
        val meta = pm.getApplicationInfo(app.packageName, PackageManager.GET_META_DATA).metaData
        // aapt2 compiles "5" as an integer, the labels (ranges) as strings.
        assertEquals(5, meta.getInt("com.google.test.loops"))
        // Robolectric runs the build without QNN: scenario 4 is not offered.
        assertEquals("1-3,5", meta.getString("com.google.test.loops.abpn_runnable"))
        assertEquals("1-3", meta.getString("com.google.test.loops.abpn_single"))
    }

    @Test fun theApkBundlesTheReferenceOfItsModel() {
        LoopAssets.source = previousSource
        val files = LoopAssets.fromApk(app)
        val (input, output) = TfliteModelFile.io(ByteBuffer.wrap(files.model.readBytes()))
        assertEquals(input.bytes!!.toLong(), files.input.length())
        assertEquals(output.bytes!!.toLong(), files.expected.length())
    }
}

/** Where the loop's results go, as Test Lab hands the loop a URI to write: a file per path, "w" only. */
class LoopResultsProvider : ContentProvider() {
    companion object {
        const val AUTHORITY = "org.abpn.test.gameloop"
        @Volatile lateinit var dir: File
    }

    override fun onCreate() = true

    override fun openFile(uri: Uri, mode: String): ParcelFileDescriptor {
        require(mode.startsWith("w")) { "the loop writes its results; mode $mode" }
        return ParcelFileDescriptor.open(File(dir, uri.lastPathSegment!!), ParcelFileDescriptor.parseMode(mode))
    }

    override fun query(uri: Uri, p: Array<out String>?, s: String?, a: Array<out String>?, o: String?): Cursor? = null
    override fun getType(uri: Uri): String = "application/javascript"
    override fun insert(uri: Uri, values: ContentValues?): Uri? = null
    override fun update(uri: Uri, values: ContentValues?, s: String?, a: Array<out String>?) = 0
    override fun delete(uri: Uri, s: String?, a: Array<out String>?) = 0
}
