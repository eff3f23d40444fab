package org.abpn.app

import android.Manifest
import android.app.Activity
import android.content.ActivityNotFoundException
import android.content.Intent
import android.content.pm.PackageManager
import android.graphics.Bitmap
import android.graphics.BitmapFactory
import android.graphics.ImageDecoder
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
        busy = true
        pick.isEnabled = false; save.isEnabled = false
        progress.visibility = View.VISIBLE; progress.progress = 0
        window.addFlags(WindowManager.LayoutParams.FLAG_KEEP_SCREEN_ON)
        status.text = "Decoding the photo…"
        Thread {
            try {
                val (photo, note) = try {
                    decode(uri)
                } catch (e: Exception) {
                    runOnUiThread { status.text = "Cannot read this photo: ${e.message ?: e}" }
                    return@Thread
                }
                runOnUiThread { status.text = "Upscaling ${photo.width}x${photo.height} on ${accelerator.id}…${note ?: ""}" }
                val start = System.nanoTime()
                val out = PhotoUpscaler(this).upscale(photo, accelerator, Runtime.getRuntime().availableProcessors().coerceAtMost(4)) { done, total ->
                    runOnUiThread { progress.max = total; progress.progress = done }
                }
                val seconds = (System.nanoTime() - start) / 1e9
                val (before, after) = centerCrops(photo, out)
                runOnUiThread {
                    result = out
                    compare.show(before, after)
                    status.text = "%dx%d → %dx%d on %s in %.2f s.%s Centre crop at 100%%: left input (pixels repeated), right ABPN x3."
                        .format(photo.width, photo.height, out.width, out.height, accelerator.id, seconds, note ?: "")
                    save.isEnabled = true
                }
            } catch (e: Throwable) {
                runOnUiThread { status.text = "Upscaling failed: ${e.message ?: e}" }
            } finally {
                runOnUiThread {
                    busy = false; pick.isEnabled = true; progress.visibility = View.INVISIBLE
                    window.clearFlags(WindowManager.LayoutParams.FLAG_KEEP_SCREEN_ON)
                }
            }
        }.start()
    }

    /** Decodes within the output limit (orientation applied on Android 9+); says when it had to reduce. */
    private fun decode(uri: Uri): Pair<Bitmap, String?> {
        var note: String? = null
        val bitmap = if (Build.VERSION.SDK_INT >= 28) {
            ImageDecoder.decodeBitmap(ImageDecoder.createSource(contentResolver, uri)) { decoder, info, _ ->
                decoder.allocator = ImageDecoder.ALLOCATOR_SOFTWARE
                val (w, h) = TilePlan.fitInput(info.size.width, info.size.height)
                if (w != info.size.width || h != info.size.height) {
                    decoder.setTargetSize(w, h)
                    note = " (reduced from ${info.size.width}x${info.size.height} to keep the output within the limit)"
                }
            }
        } else {
            val bounds = BitmapFactory.Options().apply { inJustDecodeBounds = true }
            contentResolver.openInputStream(uri)?.use { BitmapFactory.decodeStream(it, null, bounds) }
            // Unreadable images leave -1 here, which would never end the inSampleSize search below.
            if (bounds.outWidth <= 0 || bounds.outHeight <= 0) throw IllegalArgumentException("cannot decode this image")
            val (w, h) = TilePlan.fitInput(bounds.outWidth, bounds.outHeight)
            var sample = 1
            while (bounds.outWidth / (sample * 2) >= w && bounds.outHeight / (sample * 2) >= h) sample *= 2
            val decoded = contentResolver.openInputStream(uri)?.use {
                BitmapFactory.decodeStream(it, null, BitmapFactory.Options().apply { inSampleSize = sample })
            } ?: throw IllegalArgumentException("cannot decode this image")
            if (w != bounds.outWidth || h != bounds.outHeight) {
                note = " (reduced from ${bounds.outWidth}x${bounds.outHeight} to keep the output within the limit)"
                Bitmap.createScaledBitmap(decoded, w, h, true)
            } else decoded
        }
        val argb = if (bitmap.config == Bitmap.Config.ARGB_8888) bitmap else bitmap.copy(Bitmap.Config.ARGB_8888, false)
        return argb to note
    }

    /** A 100% crop of the output's centre, and the same area of the input with pixels repeated. */
    private fun centerCrops(photo: Bitmap, out: Bitmap): Pair<Bitmap, Bitmap> {
        val s = TilePlan.SCALE
        val lw = Math.min(photo.width, CROP / s)
        val lh = Math.min(photo.height, CROP / s)
        val lx = (photo.width - lw) / 2
        val ly = (photo.height - lh) / 2
        val before = Bitmap.createBitmap(photo, lx, ly, lw, lh)
        val after = Bitmap.createBitmap(out, lx * s, ly * s, lw * s, lh * s)
        return before to after
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
        private const val CROP = 1080
    }
}
