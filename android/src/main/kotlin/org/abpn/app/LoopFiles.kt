package org.abpn.app

import android.content.Context
import java.io.File
import java.io.FileNotFoundException
import java.io.IOException

/** The model and its reference input and expected output, as files the benchmark runner reads. */
class LoopFiles(val model: File, val input: File, val expected: File)

/**
 * Where a game loop's files come from. On a phone: the APK's assets (the bundled model and the
 * reference its build computed with the host's pipeline, android/build-offline or the Gradle task
 * `bundleReference`), copied once to internal storage because the runner and the accelerator
 * processes read paths. Tests put their own model here.
 */
object LoopAssets {
    const val INPUT = "abpn_x3_int8.input.bin"
    const val EXPECTED = "abpn_x3_int8.expected.bin"

    @Volatile var source: (Context) -> LoopFiles = ::fromApk

    /** Throws [FileNotFoundException] naming what this APK lacks. */
    fun fromApk(context: Context): LoopFiles {
        val present = context.assets.list("")?.toSet() ?: emptySet()
        val missing = listOf(BundledModel.ASSET, INPUT, EXPECTED).filter { it !in present }
        if (missing.isNotEmpty()) {
            throw FileNotFoundException(
                "this APK lacks ${missing.joinToString(", ")}: build it with the model and its reference " +
                    "(android/build-offline with ABPN_MODEL, or Gradle with -PabpnModel)",
            )
        }
        val dir = File(context.filesDir, "test-loop").apply { if (!isDirectory && !mkdirs()) throw IOException("cannot create $this") }
        val files = listOf(BundledModel.ASSET, INPUT, EXPECTED).map { name -> copy(context, name, File(dir, name)) }
        return LoopFiles(files[0], files[1], files[2])
    }

    /** Copied afresh for every loop (about 7 MB): an updated APK's model and reference always travel together. */
    private fun copy(context: Context, asset: String, to: File): File {
        val tmp = File(to.parentFile, to.name + ".tmp")
        context.assets.open(asset).use { input -> tmp.outputStream().use { input.copyTo(it) } }
        if (!tmp.renameTo(to)) throw IOException("cannot write $to")
        return to
    }
}
