package org.abpn.core

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Test

class PixelIoTest {
    @Test fun int8FormIsThePixelMinus128ForEveryValue() {
        for (x in 0..255) {
            assertEquals((x - 128).toByte(), PixelIo.INT8.toTensor(x))
            assertEquals(x, PixelIo.INT8.toPixel((x - 128).toByte()))
            assertEquals(x.toByte(), PixelIo.UINT8.toTensor(x))
            assertEquals(x, PixelIo.UINT8.toPixel(x.toByte()))
        }
    }

    @Test fun formIsReadFromTheTensorsQuantization() {
        assertEquals(PixelIo.UINT8, PixelIo.of("uint8", 1f, 0))
        assertEquals(PixelIo.INT8, PixelIo.of("int8", 1f, -128))
        assertEquals(PixelIo.UINT8, PixelIo.of("uint8", 0f, 0)) // TFLite's "not quantized"
        assertNull(PixelIo.of("int8", 1f, 0))          // bytes that are not pixels
        assertNull(PixelIo.of("int8", 0.5f, -128))
        assertNull(PixelIo.of("float32", 0f, 0))
    }

    /** A model on int8 tensors computes on pixel - 128; the tiler's flip in and out gives back the uint8 result. */
    @Test fun theTilerGivesTheSamePixelsThroughEitherForm() {
        val (w, h) = 23 to 17
        val rnd = java.util.Random(7)
        val image = IntArray(w * h) { (0xFF shl 24) or rnd.nextInt(1 shl 24) }
        fun run(io: PixelIo): IntArray {
            val plan = TilePlan(w, h, 10, 8, 2, 3)
            val out = IntArray(plan.outWidth * plan.outHeight)
            TiledUpscaler(plan, io).run(
                { x, y, rw, rh, dst -> for (r in 0 until rh) System.arraycopy(image, (y + r) * w + x, dst, r * rw, rw) },
                { x, y, ww, hh, src -> for (r in 0 until hh) System.arraycopy(src, r * ww, out, (y + r) * plan.outWidth + x, ww) },
                { input, output ->
                    // nearest x3, brightened by 40 with saturation, on the tensor's own values
                    for (y in 0 until 24) for (x in 0 until 30) for (c in 0 until 3) {
                        val v = input[((y / 3) * 10 + x / 3) * 3 + c].toInt().let { if (io == PixelIo.INT8) it else it and 0xFF }
                        val max = if (io == PixelIo.INT8) 127 else 255
                        output[(y * 30 + x) * 3 + c] = Math.min(v + 40, max).toByte()
                    }
                },
            )
            return out
        }
        val viaUint8 = run(PixelIo.UINT8)
        assertArrayEquals(viaUint8, run(PixelIo.INT8))
        assertEquals(Math.min(((image[0] shr 16) and 0xFF) + 40, 255), (viaUint8[0] shr 16) and 0xFF)
    }
}
