package org.abpn.app

import android.content.Context
import android.graphics.Bitmap
import android.graphics.Canvas
import android.graphics.Color
import android.graphics.Paint
import android.graphics.Rect
import android.graphics.RectF
import android.view.View

/** Input (pixels repeated x3) left of the divider, the network's output right of it, same crop. */
class BeforeAfterView(context: Context) : View(context) {
    /** Public so tests (and accessibility tools) can tell what is on screen. */
    var before: Bitmap? = null
        private set
    var after: Bitmap? = null
        private set
    private var split = 0.5f
    private val pixelated = Paint().apply { isFilterBitmap = false }
    private val smooth = Paint(Paint.FILTER_BITMAP_FLAG)
    private val line = Paint().apply { color = Color.WHITE; strokeWidth = 4f }

    fun show(before: Bitmap, after: Bitmap) {
        this.before = before; this.after = after; invalidate()
    }

    fun setSplit(fraction: Float) {
        split = fraction.coerceIn(0f, 1f); invalidate()
    }

    override fun onDraw(canvas: Canvas) {
        val b = before ?: return
        val a = after ?: return
        val scale = Math.min(width.toFloat() / a.width, height.toFloat() / a.height)
        val w = a.width * scale
        val h = a.height * scale
        val dst = RectF((width - w) / 2, (height - h) / 2, (width + w) / 2, (height + h) / 2)
        val cut = dst.left + w * split
        canvas.save()
        canvas.clipRect(dst.left, dst.top, cut, dst.bottom)
        canvas.drawBitmap(b, Rect(0, 0, b.width, b.height), dst, pixelated)
        canvas.restore()
        canvas.save()
        canvas.clipRect(cut, dst.top, dst.right, dst.bottom)
        canvas.drawBitmap(a, Rect(0, 0, a.width, a.height), dst, smooth)
        canvas.restore()
        canvas.drawLine(cut, dst.top, cut, dst.bottom, line)
    }
}
