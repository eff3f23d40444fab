package org.abpn.app

import android.os.Bundle
import android.provider.Settings
import android.util.Log
import android.widget.TextView
import org.abpn.core.LoopSource
import org.abpn.core.TestLoop
import java.util.UUID

/**
 * The game loop: started by Firebase Test Lab (`gcloud firebase test android run --type game-loop`)
 * or by hand with `adb shell am start -a com.google.intent.action.TEST_LOOP -n org.abpn.app/.TestLoopActivity
 * -t application/javascript -d URI --ei scenario N`. Runs the scenario on the bundled model
 * ([TestLoopRun]), writes the record to the file the intent's data URI names and finishes, which
 * tells Test Lab that the loop is over. Without a URI the record is still kept for `content read`.
 */
class TestLoopActivity : MeasuringActivity() {
    private lateinit var statusView: TextView

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        if (intent.action != TestLoop.ACTION) {
            Log.w(ResultFiles.TAG, "TestLoopActivity started without ${TestLoop.ACTION}: nothing to do")
            finish()
            return
        }
        statusView = showStatusScreen()
        shown = this
        // A recreated screen (a configuration change not in the manifest) must not start a second loop;
        // the loop's thread finishes whichever screen is shown when it ends.
        if (savedInstanceState != null) {
            if (!running) finish()
            return
        }
        running = true
        val scenario = if (intent.hasExtra(TestLoop.SCENARIO_EXTRA)) intent.getIntExtra(TestLoop.SCENARIO_EXTRA, 0) else null
        // Test Lab's devices set this system setting (Test Lab's docs, "Modify app behavior on Test Lab").
        val kind = if (Settings.System.getString(contentResolver, "firebase.test.lab") == "true") LoopSource.TEST_LAB else LoopSource.TEST_LOOP
        // Creates the app's own external folder, so that a hand-started loop can be given
        // -d file:///sdcard/Android/data/org.abpn.app/files/loop.json and the shell can pull it.
        getExternalFilesDir(null)
        val uri = intent.data
        val runId = UUID.randomUUID().toString()
        show("ABPN game loop, scenario ${scenario ?: "none"} (${kind.id})\nstarting")
        Thread({
            val json = try {
                TestLoopRun(this, kind, scenario).execute(runId) { p -> show("ABPN game loop, scenario $scenario\n$p") }
            } catch (e: Throwable) {
                // Caught so that the loop still writes something and finishes, rather than leaving Test Lab to time out.
                Log.e(ResultFiles.TAG, "game loop failed", e)
                TestLoopRun.errorJson(runId, "the game loop could not make a record: $e")
            }
            if (uri != null) {
                try {
                    TestLoopRun.write(this, uri, json)
                    Log.i(ResultFiles.TAG, "game loop $runId: record written to $uri")
                } catch (e: Exception) {
                    Log.e(ResultFiles.TAG, "game loop $runId: cannot write to $uri", e)
                }
            } else {
                Log.i(ResultFiles.TAG, "game loop $runId: no results URI; read content://org.abpn.app.results/runs/$runId.json")
            }
            running = false
            runOnUiThread { (shown ?: this).finish() }
        }, "abpn-test-loop").start()
    }

    private fun show(text: String) = runOnUiThread { shown?.takeIf { !it.isFinishing }?.statusView?.text = text }

    override fun onDestroy() {
        if (shown === this) shown = null
        super.onDestroy()
    }

    private companion object {
        @Volatile var shown: TestLoopActivity? = null
        @Volatile var running = false
    }
}
