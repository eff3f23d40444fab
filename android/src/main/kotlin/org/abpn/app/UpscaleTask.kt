package org.abpn.app

import android.content.Context
import android.graphics.Bitmap
import android.net.Uri
import android.os.Handler
import android.os.Looper
import org.abpn.core.Accelerator
import org.abpn.core.TilePlan
import java.util.concurrent.CancellationException

/**
 * One photo's upscale and its result, outside any activity. A configuration change other than
 * rotation (uiMode, fontScale, locale, density) recreates DemoActivity; the new instance takes this
 * over (onRetainNonConfigurationInstance) and shows its progress and result, instead of a second
 * thread holding up to 144 MB while the new screen allows another upscale. When the activity goes
 * away for good, [cancel] stops the work after the current tile (the engine is closed) and drops
 * the bitmaps. Everything the screen shows is [Screen], published on the main thread.
 */
class UpscaleTask(private val context: Context, private val uri: Uri, private val accelerator: Accelerator) {
    data class Screen(
        val status: String,
        val done: Int = 0,
        val total: Int = 0,
        val busy: Boolean = true,
        val before: Bitmap? = null,
        val after: Bitmap? = null,
        val result: Bitmap? = null,
    )

    private val main = Handler(Looper.getMainLooper())
    @Volatile private var cancelled = false
    // Main thread only.
    private var screen = Screen("Decoding the photo…")
    private var listener: ((Screen) -> Unit)? = null

    /** [l] hears every change on the main thread, and the current screen at once; null detaches. */
    fun attach(l: ((Screen) -> Unit)?) {
        listener = l
        l?.invoke(screen)
    }

    fun start() = Thread(::work, "abpn-upscale").start()

    fun cancel() {
        cancelled = true
        listener = null
        screen = screen.copy(before = null, after = null, result = null)
    }

    private fun publish(change: (Screen) -> Screen) {
        main.post { if (!cancelled) { screen = change(screen); listener?.invoke(screen) } }
    }

    private fun work() {
        try {
            val decoded = try {
                PhotoDecoder.decode(context.contentResolver, uri)
            } catch (e: Exception) {
                publish { it.copy(status = "Cannot read this photo: ${e.message ?: e}", busy = false) }
                return
            }
            val photo = decoded.bitmap
            val note = decoded.note ?: ""
            publish { it.copy(status = "Upscaling ${photo.width}x${photo.height} on ${accelerator.id}…$note") }
            val start = System.nanoTime()
            val threads = Runtime.getRuntime().availableProcessors().coerceAtMost(4)
            val out = PhotoUpscaler(context).upscale(photo, accelerator, threads) { done, total ->
                if (cancelled) throw CancellationException("the demo was closed")
                publish { it.copy(done = done, total = total) }
            }
            val seconds = (System.nanoTime() - start) / 1e9
            val (before, after) = centerCrops(photo, out)
            publish {
                it.copy(
                    status = "%dx%d → %dx%d on %s in %.2f s.%s Centre crop at 100%%: left input (pixels repeated), right ABPN x3."
                        .format(photo.width, photo.height, out.width, out.height, accelerator.id, seconds, note),
                    busy = false, before = before, after = after, result = out,
                )
            }
        } catch (e: CancellationException) {
            // Closed on purpose; the engine was closed on the way out and nothing holds the bitmaps.
        } catch (e: Throwable) {
            publish { it.copy(status = "Upscaling failed: ${e.message ?: e}", busy = false) }
        }
    }

    /** A 100% crop of the output's centre, and the same area of the input with pixels repeated. */
    private fun centerCrops(photo: Bitmap, out: Bitmap): Pair<Bitmap, Bitmap> {
        val s = TilePlan.SCALE
        val lw = Math.min(photo.width, CROP / s)
        val lh = Math.min(photo.height, CROP / s)
        val lx = (photo.width - lw) / 2
        val ly = (photo.height - lh) / 2
        return Bitmap.createBitmap(photo, lx, ly, lw, lh) to Bitmap.createBitmap(out, lx * s, ly * s, lw * s, lh * s)
    }

    private companion object {
        const val CROP = 1080
    }
}
