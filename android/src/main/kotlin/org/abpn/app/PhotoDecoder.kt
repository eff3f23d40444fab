package org.abpn.app

import android.graphics.Bitmap
import android.graphics.BitmapFactory
import android.graphics.ImageDecoder
import android.graphics.Matrix
import android.media.ExifInterface
import android.net.Uri
import android.content.ContentResolver
import android.os.Build
import org.abpn.core.TilePlan
import java.io.InputStream

/**
 * Decodes a photo within the demo's output limit (TilePlan.fitInput), upright, as ARGB_8888, and
 * says when it had to reduce it. Android 9+: ImageDecoder (orientation applied, target size set
 * before decoding). Android 8.x: BitmapFactory, which ignores EXIF orientation, so the orientation
 * is read with ExifInterface and applied; the size is reached in the one decode (a power-of-two
 * inSampleSize, then inDensity/inTargetDensity scaling inside the decoder), never a full-size bitmap first.
 */
object PhotoDecoder {
    class Decoded(val bitmap: Bitmap, val note: String?)

    fun decode(resolver: ContentResolver, uri: Uri): Decoded =
        if (Build.VERSION.SDK_INT >= 28) withImageDecoder(resolver, uri) else withBitmapFactory { resolver.openInputStream(uri) ?: throw IllegalArgumentException("cannot open $uri") }

    private fun withImageDecoder(resolver: ContentResolver, uri: Uri): Decoded {
        var note: String? = null
        val bitmap = ImageDecoder.decodeBitmap(ImageDecoder.createSource(resolver, uri)) { decoder, info, _ ->
            decoder.allocator = ImageDecoder.ALLOCATOR_SOFTWARE
            val (w, h) = TilePlan.fitInput(info.size.width, info.size.height)
            if (w != info.size.width || h != info.size.height) {
                decoder.setTargetSize(w, h)
                note = reduced(info.size.width, info.size.height, w, h)
            }
        }
        return Decoded(argb(bitmap), note)
    }

    /** The Android 8.x path; [open] gives a fresh stream of the photo each time. */
    fun withBitmapFactory(open: () -> InputStream): Decoded {
        val bounds = BitmapFactory.Options().apply { inJustDecodeBounds = true }
        open().use { BitmapFactory.decodeStream(it, null, bounds) }
        // Unreadable images leave -1 here, which would never end the inSampleSize search below.
        if (bounds.outWidth <= 0 || bounds.outHeight <= 0) throw IllegalArgumentException("cannot decode this image")
        val orientation = runCatching { open().use { ExifInterface(it).getAttributeInt(ExifInterface.TAG_ORIENTATION, ExifInterface.ORIENTATION_NORMAL) } }
            .getOrDefault(ExifInterface.ORIENTATION_NORMAL)
        val (w, h) = TilePlan.fitInput(bounds.outWidth, bounds.outHeight)
        var sample = 1
        while (bounds.outWidth / (sample * 2) >= w && bounds.outHeight / (sample * 2) >= h) sample *= 2
        val options = BitmapFactory.Options().apply {
            inSampleSize = sample
            inPreferredConfig = Bitmap.Config.ARGB_8888
            if (w != bounds.outWidth) {
                // Scaled by the decoder itself from the sampled size to the target width.
                inScaled = true
                inDensity = bounds.outWidth / sample
                inTargetDensity = w
            }
        }
        val decoded = open().use { BitmapFactory.decodeStream(it, null, options) } ?: throw IllegalArgumentException("cannot decode this image")
        val note = if (w != bounds.outWidth || h != bounds.outHeight) reduced(bounds.outWidth, bounds.outHeight, w, h) else null
        // The decoder's density scaling rounds each side on its own: a pixel off at most, fixed at the target size.
        val exact = if (decoded.width == w && decoded.height == h) decoded else Bitmap.createScaledBitmap(decoded, w, h, true).also { if (it !== decoded) decoded.recycle() }
        return Decoded(argb(upright(exact, orientation)), note)
    }

    /** The EXIF orientation applied (what ImageDecoder does by itself). */
    private fun upright(b: Bitmap, orientation: Int): Bitmap {
        val m = Matrix()
        when (orientation) {
            ExifInterface.ORIENTATION_FLIP_HORIZONTAL -> m.setScale(-1f, 1f)
            ExifInterface.ORIENTATION_ROTATE_180 -> m.setRotate(180f)
            ExifInterface.ORIENTATION_FLIP_VERTICAL -> m.setScale(1f, -1f)
            ExifInterface.ORIENTATION_TRANSPOSE -> { m.setRotate(90f); m.postScale(-1f, 1f) }
            ExifInterface.ORIENTATION_ROTATE_90 -> m.setRotate(90f)
            ExifInterface.ORIENTATION_TRANSVERSE -> { m.setRotate(-90f); m.postScale(-1f, 1f) }
            ExifInterface.ORIENTATION_ROTATE_270 -> m.setRotate(-90f)
            else -> return b
        }
        val turned = Bitmap.createBitmap(b, 0, 0, b.width, b.height, m, false)
        if (turned !== b) b.recycle()
        return turned
    }

    private fun argb(b: Bitmap): Bitmap = if (b.config == Bitmap.Config.ARGB_8888) b else b.copy(Bitmap.Config.ARGB_8888, false)

    private fun reduced(w0: Int, h0: Int, w: Int, h: Int) = " (reduced from ${w0}x$h0 to keep the output within the limit)"
}
