package org.abpn.app

import android.content.Context
import java.io.FileInputStream
import java.io.FileNotFoundException
import java.nio.MappedByteBuffer
import java.nio.channels.FileChannel

/**
 * The INT8 model copied into the APK's assets at build time (stored uncompressed so it can be
 * mapped): models/abpn_x3_int8_int8io.tflite by default, under the asset name [ASSET] whatever its
 * I/O type. An APK built without a model simply lacks it.
 */
object BundledModel {
    const val ASSET = "abpn_x3_int8.tflite"

    fun isPresent(context: Context): Boolean = context.assets.list("")?.contains(ASSET) == true

    fun map(context: Context): MappedByteBuffer {
        val fd = try { context.assets.openFd(ASSET) } catch (e: FileNotFoundException) {
            throw IllegalStateException("$ASSET is not in this APK", e)
        }
        fd.use { afd ->
            FileInputStream(afd.fileDescriptor).use { s ->
                return s.channel.map(FileChannel.MapMode.READ_ONLY, afd.startOffset, afd.declaredLength)
            }
        }
    }

    fun sha256(context: Context): String = ModelFile.sha256(context.assets.open(ASSET))
}
