package org.abpn.core

import java.io.RandomAccessFile

/**
 * Whether this APK's native libraries can load on the phone's page size. A kernel with 16 KB pages
 * refuses a library whose LOAD segments are aligned to less (bionic linker: "program alignment
 * (4096) cannot be smaller than system page size (16384)"); TFLite 2.16.1's
 * libtensorflowlite_jni.so and libtensorflowlite_gpu_jni.so have 4 KB LOAD alignment (readelf -lW).
 */
object PageSupport {
    private const val PT_LOAD = 1

    /** The smallest p_align of the PT_LOAD segments of a 64-bit little-endian ELF file. */
    fun minLoadAlignment(elf: RandomAccessFile): Long {
        val header = ByteArray(64)
        elf.seek(0); elf.readFully(header)
        require(header[0] == 0x7f.toByte() && header[1] == 'E'.code.toByte() && header[2] == 'L'.code.toByte() && header[3] == 'F'.code.toByte()) {
            "not an ELF file"
        }
        require(header[4].toInt() == 2 && header[5].toInt() == 1) { "not a 64-bit little-endian ELF file" }
        val phoff = le(header, 0x20, 8)
        val phentsize = le(header, 0x36, 2).toInt()
        val phnum = le(header, 0x38, 2).toInt()
        require(phentsize >= 56) { "program header entries of $phentsize bytes" }
        var min = Long.MAX_VALUE
        val ph = ByteArray(phentsize)
        for (i in 0 until phnum) {
            elf.seek(phoff + i.toLong() * phentsize); elf.readFully(ph)
            if (le(ph, 0, 4).toInt() == PT_LOAD) min = Math.min(min, le(ph, 0x30, 8))
        }
        require(min != Long.MAX_VALUE) { "no LOAD segment" }
        return min
    }

    /** Why the libraries cannot load on [pageSize]-byte pages, or null when they can. */
    fun unsupportedReason(pageSize: Long, alignments: Map<String, Long>): String? {
        val bad = alignments.filterValues { it < pageSize }
        if (bad.isEmpty()) return null
        val which = bad.entries.joinToString(", ") { "${it.key} (LOAD alignment ${it.value})" }
        return "this phone's kernel uses ${pageSize / 1024} KB pages ($pageSize bytes) and this APK's $which cannot load on it; " +
            "a TFLite/LiteRT build with 16 KB-aligned libraries is needed"
    }

    /** API level of Android 16, the first with the 16 KB backcompat mode. */
    const val BACKCOMPAT_SDK = 36

    /**
     * What to do on this phone: [Plan.unsupportedReason] when the libraries certainly cannot load
     * (16 KB pages before Android 16: bionic's linker refuses them), else [Plan.note] when they load
     * only through Android 16's 16 KB backcompat mode (source.android.com "16 KB backcompat":
     * the package manager runs 4 KB-aligned apps with bionic's android_set_16kb_appcompat_mode on),
     * in which case the app tries the load and reports what happened instead of assuming.
     */
    fun plan(pageSize: Long, alignments: Map<String, Long>, sdkInt: Int): Plan {
        val reason = unsupportedReason(pageSize, alignments) ?: return Plan(null, null)
        if (sdkInt < BACKCOMPAT_SDK) return Plan("$reason (Android ${sdkInt} has no 16 KB backcompat mode; Android 16 has)", null)
        val which = alignments.filterValues { it < pageSize }.keys.joinToString(", ")
        return Plan(
            null,
            "16 KB pages on API $sdkInt: this APK's 4 KB-aligned $which can load only in Android 16's 16 KB backcompat mode; " +
                "the app tried the load",
        )
    }

    data class Plan(val unsupportedReason: String?, val note: String?)

    private fun le(b: ByteArray, at: Int, n: Int): Long {
        var v = 0L
        for (i in n - 1 downTo 0) v = (v shl 8) or (b[at + i].toLong() and 0xFF)
        return v
    }
}
