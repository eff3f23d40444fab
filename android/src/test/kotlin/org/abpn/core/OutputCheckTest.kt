package org.abpn.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Test
import java.nio.ByteBuffer
import java.nio.ByteOrder

class OutputCheckTest {
    @Test fun identicalOutputsHaveInfinitePsnr() {
        val a = ByteArray(100) { it.toByte() }
        val c = OutputCheck.compare(a, a.copyOf())
        assertNull(c.psnrDb)
        assertEquals(0, c.maxAbsDiff)
        assertTrue(c.passed)
    }

    @Test fun bytesAreUnsigned() {
        // 255 vs 0 is a difference of 255, not of 1 (signed -1 vs 0)
        val c = OutputCheck.compare(byteArrayOf(0xFF.toByte(), 0), byteArrayOf(0, 0))
        assertEquals(255, c.maxAbsDiff)
        assertEquals(10 * Math.log10(2.0), c.psnrDb!!, 1e-9) // mse = 255^2 / 2
    }

    @Test fun wrongPixelsFailTheThreshold() {
        val ref = ByteArray(1000) { 128.toByte() }
        val small = ref.copyOf().also { it[0] = 130.toByte() }
        assertTrue(OutputCheck.compare(small, ref).passed)
        val wrong = ByteArray(1000) { 100.toByte() } // off by 28 everywhere: ~19.2 dB
        val c = OutputCheck.compare(wrong, ref)
        assertFalse(c.passed)
        assertEquals(20 * Math.log10(255.0 / 28.0), c.psnrDb!!, 1e-9)
    }

    @Test fun int8OutputsAreComparedAsPixelsNotWrappedBytes() {
        // The export's int8 output has zero point -128: byte 0x7F is pixel 255, 0x80 is pixel 0.
        val int8 = PixelDecoding("int8", 1f, -128)
        assertEquals(255, OutputCheck.compare(byteArrayOf(0x7F), byteArrayOf(0x80.toByte()), int8).maxAbsDiff)
        // -1 and 0 are pixels 127 and 128: one level apart (read as uint8 they would be 255 apart).
        val c = OutputCheck.compare(byteArrayOf(-1, 5), byteArrayOf(0, 5), int8)
        assertEquals(1, c.maxAbsDiff)
        assertEquals(10 * Math.log10(255.0 * 255.0 * 2), c.psnrDb!!, 1e-9)
    }

    @Test fun quantizedValuesAreScaledRoundedAndClippedLikeTheHost() {
        // (q - 10) * 2.5 rounded half to even, clipped to 0..255, as python/abpn/modelfile.py decode_output.
        val d = PixelDecoding("uint8", 2.5f, 10)
        val raw = ByteBuffer.wrap(byteArrayOf(9, 11, 12, 255.toByte()))
        assertEquals(listOf(0, 2, 5, 255), (0 until 4).map { d.pixel(raw, it) })
    }

    @Test fun float32OutputsAreRoundedToPixels() {
        fun bytes(vararg v: Float) = ByteBuffer.allocate(4 * v.size).order(ByteOrder.LITTLE_ENDIAN)
            .apply { v.forEach { putFloat(it) } }.array()
        val f32 = PixelDecoding("float32", 0f, 0)
        val c = OutputCheck.compare(bytes(10.4f, 300f, -3f), bytes(10f, 255f, 0f), f32)
        assertNull(c.psnrDb)
        // Half to even, as numpy.round: 12.5 is pixel 12.
        assertEquals(2, OutputCheck.compare(bytes(12.5f), bytes(10f), f32).maxAbsDiff)
    }

    @Test(expected = IllegalArgumentException::class)
    fun sizeMismatchIsAnError() {
        OutputCheck.compare(ByteArray(3), ByteArray(4))
    }
}
