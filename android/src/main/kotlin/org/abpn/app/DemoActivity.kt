package org.abpn.app

import android.Manifest
import android.app.Activity
import android.content.ActivityNotFoundException
import android.content.Intent
import android.content.pm.PackageManager
import android.graphics.Bitmap
import android.net.Uri
import android.os.Build
import android.os.Bundle
import android.os.ext.SdkExtensions
import android.provider.MediaStore
import android.view.View
import android.view.WindowInsets
import android.view.WindowManager
import android.widget.ArrayAdapter
import android.widget.Button
import android.widget.LinearLayout
import android.widget.ProgressBar
import android.widget.SeekBar
import android.widget.Spinner
import android.widget.TextView
import org.abpn.core.Accelerator
import org.abpn.core.AcceleratorChoice
import org.abpn.core.TilePlan

/** The launcher: pick a photo, upscale it x3 on the chosen accelerator, compare, save. */
class DemoActivity : Activity() {
    private lateinit var pick: Button
    private lateinit var save: Button
    private lateinit var accelerators: Spinner
    private lateinit var status: TextView
    private lateinit var progress: ProgressBar
    private lateinit var compare: BeforeAfterView
    private var result: Bitmap? = null
    /** The no-QNN build does not offer the QNN accelerators at all. */
    private val offered = Accelerator.values().filter {
        QnnSupport.BUNDLED || (it != Accelerator.QNN_HTP && it != Accelerator.QNN_DSP)
    }
    private var busy = false
    /** The upscale this screen shows, handed over across recreations (onRetainNonConfigurationInstance). */
    private var task: UpscaleTask? = null

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val pad = (12 * resources.displayMetrics.density).toInt()
        pick = Button(this).apply { text = "Pick a photo"; setOnClickListener { pickPhoto() } }
        save = Button(this).apply { text = "Save to gallery"; isEnabled = false; setOnClickListener { saveResult() } }
        accelerators = Spinner(this).apply {
            adapter = ArrayAdapter(this@DemoActivity, android.R.layout.simple_spinner_dropdown_item, offered.map { it.id })
        }
        status = TextView(this).apply { setPadding(0, pad, 0, pad) }
        progress = ProgressBar(this, null, android.R.attr.progressBarStyleHorizontal).apply { visibility = View.INVISIBLE }
        compare = BeforeAfterView(this)
        val slider = SeekBar(this).apply {
            max = 1000; progress = 500
            setOnSeekBarChangeListener(object : SeekBar.OnSeekBarChangeListener {
                override fun onProgressChanged(s: SeekBar, value: Int, fromUser: Boolean) = compare.setSplit(value / 1000f)
                override fun onStartTrackingTouch(s: SeekBar) {}
                override fun onStopTrackingTouch(s: SeekBar) {}
            })
        }
        val buttons = LinearLayout(this).apply {
            orientation = LinearLayout.HORIZONTAL
            addView(pick); addView(accelerators); addView(save)
        }
        setContentView(LinearLayout(this).apply {
            orientation = LinearLayout.VERTICAL
            setPadding(pad, pad, pad, pad)
            // Targeting API 35 makes the window edge-to-edge on Android 15: without this the buttons
            // sit under the status bar and the slider under the navigation bar.
            setOnApplyWindowInsetsListener { v, insets ->
                val bars = systemBarInsets(insets)
                v.setPadding(pad + bars[0], pad + bars[1], pad + bars[2], pad + bars[3])
                insets
            }
            addView(buttons)
            addView(status)
            addView(progress, LinearLayout.LayoutParams(LinearLayout.LayoutParams.MATCH_PARENT, LinearLayout.LayoutParams.WRAP_CONTENT))
            addView(compare, LinearLayout.LayoutParams(LinearLayout.LayoutParams.MATCH_PARENT, 0, 1f))
            addView(slider)
        })

        if (!BundledModel.isPresent(this)) {
            pick.isEnabled = false
            accelerators.isEnabled = false
            status.text = "This APK was built without the bundled model: models/abpn_x3_int8_int8io.tflite did not exist " +
                "when it was built. Produce the INT8 model (abpn-tool quantize), rebuild the APK and install it again. " +
                "The benchmark (driven by abpn-tool push-and-bench) works without it."
            return
        }
        (lastNonConfigurationInstance as? UpscaleTask)?.let { retained ->
            task = retained
            retained.attach(::render)
            if (busy || result != null) return
        }
        status.text = "Choosing the default accelerator…"
        Thread {
            val past = runCatching { PastResults.forModel(this, BundledModel.sha256(this)) }.getOrDefault(emptyList())
            val choice = AcceleratorChoice.pick(past, offered)
            val why = when {
                past.isEmpty() -> "no benchmark of this model on this phone yet, so the CPU"
                past.none { it.ok && it.outputPassed == true } -> "nothing passed its output check in this phone's latest benchmark, so the CPU"
                else -> "the fastest accelerator that passed its output check in this phone's latest benchmark"
            }
            runOnUiThread {
                if (isDestroyed) return@runOnUiThread
                accelerators.setSelection(offered.indexOf(choice))
                status.text = "Default: ${choice.id} ($why). Pick a photo; outputs are limited to " +
                    "${TilePlan.MAX_OUTPUT_PIXELS / 1_000_000} MP, larger photos are reduced first."
            }
        }.start()
    }

    /** Left, top, right, bottom: the system bars and the display cutout. */
    private fun systemBarInsets(insets: WindowInsets): IntArray = if (Build.VERSION.SDK_INT >= 30) {
        val i = insets.getInsets(WindowInsets.Type.systemBars() or WindowInsets.Type.displayCutout())
        intArrayOf(i.left, i.top, i.right, i.bottom)
    } else {
        @Suppress("DEPRECATION")
        intArrayOf(insets.systemWindowInsetLeft, insets.systemWindowInsetTop, insets.systemWindowInsetRight, insets.systemWindowInsetBottom)
    }

    /**
     * The photo picker where the phone has it (Android 13+, or 11+ with the MediaProvider module
     * update), else any app that offers images, as when the picker's activity is missing.
     */
    private fun pickPhoto() {
        if (busy) return
        if (photoPickerAvailable()) {
            try {
                @Suppress("DEPRECATION") startActivityForResult(Intent(MediaStore.ACTION_PICK_IMAGES), PICK)
                return
            } catch (e: ActivityNotFoundException) {
                // Some builds ship without the picker's activity; fall through to the generic chooser.
            }
        }
        val getContent = Intent(Intent.ACTION_GET_CONTENT).addCategory(Intent.CATEGORY_OPENABLE).setType("image/*")
        try {
            @Suppress("DEPRECATION") startActivityForResult(getContent, PICK)
        } catch (e: ActivityNotFoundException) {
            status.text = "No app on this phone can pick a photo."
        }
    }

    private fun photoPickerAvailable(): Boolean =
        Build.VERSION.SDK_INT >= 33 || (Build.VERSION.SDK_INT >= 30 && SdkExtensions.getExtensionVersion(Build.VERSION_CODES.R) >= 2)

    @Deprecated("Activity result API of the framework; AndroidX is not used")
    override fun onActivityResult(requestCode: Int, resultCode: Int, data: Intent?) {
        @Suppress("DEPRECATION") super.onActivityResult(requestCode, resultCode, data)
        val uri = data?.data
        if (requestCode == PICK && resultCode == RESULT_OK && uri != null) upscale(uri)
    }

    private fun upscale(uri: Uri) {
        val accelerator = Accelerator.fromId(accelerators.selectedItem as String) ?: Accelerator.CPU
        // Let the previous output (up to 144 MB) go before the next one is allocated.
        result = null
        task = UpscaleTask(applicationContext, uri, accelerator).also { it.attach(::render); it.start() }
    }

    /** The task's state on this screen (also right after a recreation). */
    private fun render(s: UpscaleTask.Screen) {
        busy = s.busy
        pick.isEnabled = !s.busy
        save.isEnabled = !s.busy && s.result != null
        status.text = s.status
        progress.visibility = if (s.busy) View.VISIBLE else View.INVISIBLE
        progress.max = s.total; progress.progress = s.done
        if (s.busy) window.addFlags(WindowManager.LayoutParams.FLAG_KEEP_SCREEN_ON)
        else window.clearFlags(WindowManager.LayoutParams.FLAG_KEEP_SCREEN_ON)
        if (s.result != null && s.result !== result && s.before != null && s.after != null) {
            result = s.result
            compare.show(s.before, s.after)
        }
    }

    /** The framework's own retained object (what AndroidX's ViewModel is built on): the next instance gets the task. */
    override fun onRetainNonConfigurationInstance(): Any? = task

    override fun onDestroy() {
        task?.let { t ->
            t.attach(null)
            // Not a recreation: nobody will show this upscale, so stop it and let its bitmaps go.
            if (!isChangingConfigurations) t.cancel()
        }
        super.onDestroy()
    }

    private fun saveResult() {
        val bitmap = result ?: return
        if (Build.VERSION.SDK_INT < 29 &&
            checkSelfPermission(Manifest.permission.WRITE_EXTERNAL_STORAGE) != PackageManager.PERMISSION_GRANTED
        ) {
            requestPermissions(arrayOf(Manifest.permission.WRITE_EXTERNAL_STORAGE), WRITE)
            return
        }
        save.isEnabled = false
        status.text = "Saving…"
        Thread {
            val message = try {
                "Saved to the gallery: ${Gallery.save(this, bitmap, "abpn_x3_${System.currentTimeMillis()}.jpg")}"
            } catch (e: Exception) {
                "Saving failed: ${e.message ?: e}"
            }
            runOnUiThread { status.text = message; save.isEnabled = true }
        }.start()
    }

    override fun onRequestPermissionsResult(requestCode: Int, permissions: Array<out String>, grantResults: IntArray) {
        if (requestCode == WRITE && grantResults.firstOrNull() == PackageManager.PERMISSION_GRANTED) saveResult()
        else if (requestCode == WRITE) status.text = "Saving needs the storage permission on this Android version."
    }

    companion object {
        private const val PICK = 1
        private const val WRITE = 2
    }
}
