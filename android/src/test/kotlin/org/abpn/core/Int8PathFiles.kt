package org.abpn.core

import java.io.File

/**
 * The app's int8-I/O path on one 360x640 tile, for tests/test_kotlin_int8_io.py, which runs the real
 * models on the host (TFLite's JNI library cannot load in a JVM test):
 *
 *   Int8PathFiles MODEL.tflite PHOTO.rgb MODEL_OUTPUT.bin TENSOR_IN.bin PIXELS_OUT.rgb
 *
 * prints the model's I/O as the benchmark's record states it (TfliteModelFile.io, the record's
 * model.input_dtype and output_dtype) and the demo's PixelIo for it; packs the photo's RGB bytes
 * into the input tensor as the demo does (TiledUpscaler with that PixelIo) and writes that tensor
 * to TENSOR_IN.bin; takes MODEL_OUTPUT.bin as the model's output for it and writes the pixels the
 * demo would show (RGB bytes) to PIXELS_OUT.rgb.
 */
object Int8PathFiles {
    @JvmStatic
    fun main(args: Array<String>) {
        require(args.size == 5) { "usage: Int8PathFiles MODEL.tflite PHOTO.rgb MODEL_OUTPUT.bin TENSOR_IN.bin PIXELS_OUT.rgb" }
        val (input, output) = TfliteModelFile.io(java.nio.ByteBuffer.wrap(File(args[0]).readBytes()))
        // The flatbuffer's zero point is not read here: the project's int8 I/O is always -128 (tested on the host).
        val io = if (input.dtype == "int8") PixelIo.INT8 else PixelIo.UINT8
        println("input_dtype=${input.dtype} output_dtype=${output.dtype} pixel_io=$io")
        val (w, h) = TilePlan.MODEL_W to TilePlan.MODEL_H
        val rgb = File(args[1]).readBytes()
        require(rgb.size == w * h * 3) { "${args[1]}: ${rgb.size} bytes, expected a ${w}x${h} RGB photo" }
        val modelOutput = File(args[2]).readBytes()
        val argb = IntArray(w * h) { i ->
            (0xFF shl 24) or ((rgb[3 * i].toInt() and 0xFF) shl 16) or ((rgb[3 * i + 1].toInt() and 0xFF) shl 8) or (rgb[3 * i + 2].toInt() and 0xFF)
        }
        val plan = TilePlan(w, h)
        val out = IntArray(plan.outWidth * plan.outHeight)
        TiledUpscaler(plan, io).run(
            { x, y, rw, rh, dst -> for (r in 0 until rh) System.arraycopy(argb, (y + r) * w + x, dst, r * rw, rw) },
            { x, y, ww, hh, src -> for (r in 0 until hh) System.arraycopy(src, r * ww, out, (y + r) * plan.outWidth + x, ww) },
            { input, output ->
                File(args[3]).writeBytes(input)
                require(modelOutput.size == output.size) { "${args[2]}: ${modelOutput.size} bytes, expected ${output.size}" }
                System.arraycopy(modelOutput, 0, output, 0, output.size)
            },
        )
        val pixels = ByteArray(out.size * 3)
        for (i in out.indices) {
            pixels[3 * i] = (out[i] shr 16).toByte(); pixels[3 * i + 1] = (out[i] shr 8).toByte(); pixels[3 * i + 2] = out[i].toByte()
        }
        File(args[4]).writeBytes(pixels)
    }
}
