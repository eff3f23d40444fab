package org.abpn.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Test

class OutputCheckTest {
    @Test fun identicalOutputsHaveInfinitePsnr() {
        val a = ByteArray(100) { it.toByte() }
        val c = OutputCheck.compareUint8(a, a.copyOf())
        assertNull(c.psnrDb)
        assertEquals(0, c.maxAbsDiff)
        assertTrue(c.passed)
    }

    @Test fun bytesAreUnsigned() {
        // 255 vs 0 is a difference of 255, not of 1 (signed -1 vs 0)
        val c = OutputCheck.compareUint8(byteArrayOf(0xFF.toByte(), 0), byteArrayOf(0, 0))
        assertEquals(255, c.maxAbsDiff)
        assertEquals(10 * Math.log10(2.0), c.psnrDb!!, 1e-9) // mse = 255^2 / 2
    }

    @Test fun wrongPixelsFailTheThreshold() {
        val ref = ByteArray(1000) { 128.toByte() }
        val small = ref.copyOf().also { it[0] = 130.toByte() }
        assertTrue(OutputCheck.compareUint8(small, ref).passed)
        val wrong = ByteArray(1000) { 100.toByte() } // off by 28 everywhere: ~19.2 dB
        val c = OutputCheck.compareUint8(wrong, ref)
        assertFalse(c.passed)
        assertEquals(20 * Math.log10(255.0 / 28.0), c.psnrDb!!, 1e-9)
    }

    @Test(expected = IllegalArgumentException::class)
    fun sizeMismatchIsAnError() {
        OutputCheck.compareUint8(ByteArray(3), ByteArray(4))
    }
}
