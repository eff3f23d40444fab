package org.abpn.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Rule
import org.junit.Test
import org.junit.rules.TemporaryFolder
import java.io.File
import java.io.RandomAccessFile
import java.nio.ByteBuffer
import java.nio.ByteOrder

class PageSupportTest {
    @get:Rule val tmp = TemporaryFolder()

    /** A minimal ELF64 little-endian file with the given (p_type, p_align) program headers. */
    private fun elf(vararg segments: Pair<Int, Long>): File {
        val b = ByteBuffer.allocate(64 + 56 * segments.size).order(ByteOrder.LITTLE_ENDIAN)
        b.put(byteArrayOf(0x7f, 'E'.code.toByte(), 'L'.code.toByte(), 'F'.code.toByte(), 2, 1, 1))
        b.putLong(0x20, 64); b.putShort(0x36, 56); b.putShort(0x38, segments.size.toShort())
        for ((i, s) in segments.withIndex()) {
            b.putInt(64 + 56 * i, s.first); b.putLong(64 + 56 * i + 0x30, s.second)
        }
        return tmp.newFile().apply { writeBytes(b.array()) }
    }

    @Test fun readsTheSmallestLoadAlignment() {
        val f = elf(6 to 8L, 1 to 4096L, 1 to 65536L, 2 to 8L) // PHDR, LOAD, LOAD, DYNAMIC
        assertEquals(4096L, RandomAccessFile(f, "r").use { PageSupport.minLoadAlignment(it) })
    }

    @Test fun refusesWhatIsNotElf() {
        val f = tmp.newFile().apply { writeBytes(ByteArray(64)) }
        assertThrows(IllegalArgumentException::class.java) { RandomAccessFile(f, "r").use { PageSupport.minLoadAlignment(it) } }
    }

    @Test fun sixteenKbPagesRefuseFourKbLibraries() {
        val libs = mapOf("libtensorflowlite_jni.so" to 4096L)
        assertNull(PageSupport.unsupportedReason(4096, libs))
        val why = PageSupport.unsupportedReason(16384, libs)!!
        assertTrue(why, why.contains("16 KB pages") && why.contains("libtensorflowlite_jni.so (LOAD alignment 4096)"))
        assertNull(PageSupport.unsupportedReason(16384, mapOf("libtensorflowlite_jni.so" to 16384L)))
    }

    @Test fun android16TriesTheLoadInItsBackcompatModeInsteadOfRefusing() {
        val libs = mapOf("libtensorflowlite_jni.so" to 4096L)
        val android15 = PageSupport.plan(16384, libs, 35)
        assertTrue(android15.unsupportedReason!!, android15.unsupportedReason!!.contains("Android 35 has no 16 KB backcompat mode"))
        assertNull(android15.note)
        val android16 = PageSupport.plan(16384, libs, 36)
        assertNull(android16.unsupportedReason)
        assertTrue(android16.note!!, android16.note!!.contains("16 KB backcompat mode"))
        assertEquals(PageSupport.Plan(null, null), PageSupport.plan(4096, libs, 36))
    }
}
