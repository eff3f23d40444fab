package org.abpn.app

import java.io.File
import java.io.FileInputStream
import java.io.InputStream
import java.nio.MappedByteBuffer
import java.nio.channels.FileChannel
import java.security.MessageDigest

object ModelFile {
    /** Maps the model read-only; the interpreter reads it in place, so the mapping must outlive it. */
    fun map(file: File): MappedByteBuffer = FileInputStream(file).use { s ->
        s.channel.map(FileChannel.MapMode.READ_ONLY, 0, s.channel.size())
    }

    fun sha256(input: InputStream): String {
        val digest = MessageDigest.getInstance("SHA-256")
        val buf = ByteArray(1 shl 16)
        input.use { while (true) { val n = it.read(buf); if (n < 0) break; digest.update(buf, 0, n) } }
        return digest.digest().joinToString("") { "%02x".format(it) }
    }
}
