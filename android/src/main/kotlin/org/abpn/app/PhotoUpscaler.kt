package org.abpn.app

import android.content.Context
import android.graphics.Bitmap
import org.abpn.core.Accelerator
import org.abpn.core.PixelReader
import org.abpn.core.PixelWriter
import org.abpn.core.TilePlan
import org.abpn.core.TiledUpscaler
import org.tensorflow.lite.DataType
import org.tensorflow.lite.Interpreter
import java.nio.ByteBuffer
import java.nio.ByteOrder

/** x3 upscaling of a photo with the bundled model, tile by tile (see org.abpn.core.TilePlan). */
class PhotoUpscaler(private val context: Context) {
    class Unavailable(message: String) : Exception(message)

    fun upscale(photo: Bitmap, accelerator: Accelerator, threads: Int, progress: (Int, Int) -> Unit): Bitmap {
        val setup = AcceleratorSetup.prepare(context, accelerator, threads)
        if (setup is Setup.Unsupported) throw Unavailable("${accelerator.id} is not available: ${setup.reason}")
        val ready = setup as Setup.Ready
        try {
            Interpreter(BundledModel.map(context), ready.options).use { interpreter ->
                val inT = interpreter.getInputTensor(0)
                val outT = interpreter.getOutputTensor(0)
                val expectIn = listOf(1, TilePlan.MODEL_H, TilePlan.MODEL_W, 3)
                // The tiler reads output bytes as uint8 pixels: an int8 output would wrap the colours.
                if (inT.shape().toList() != expectIn || inT.dataType() != DataType.UINT8 ||
                    outT.dataType() != DataType.UINT8 || outT.numBytes() != inT.numBytes() * TilePlan.SCALE * TilePlan.SCALE
                ) {
                    throw Unavailable(
                        "the bundled model is ${inT.shape().toList()} ${inT.dataType()} -> ${outT.shape().toList()} " +
                            "${outT.dataType()}; the demo needs $expectIn UINT8 -> x3 UINT8",
                    )
                }
                val plan = TilePlan(photo.width, photo.height)
                val out = Bitmap.createBitmap(plan.outWidth, plan.outHeight, Bitmap.Config.ARGB_8888)
                val inBuf = ByteBuffer.allocateDirect(inT.numBytes()).order(ByteOrder.nativeOrder())
                val outBuf = ByteBuffer.allocateDirect(outT.numBytes()).order(ByteOrder.nativeOrder())
                val reader = PixelReader { x, y, w, h, argb -> photo.getPixels(argb, 0, w, x, y, w, h) }
                val writer = PixelWriter { x, y, w, h, argb -> out.setPixels(argb, 0, w, x, y, w, h) }
                TiledUpscaler(plan).run(reader, writer, { input, output ->
                    inBuf.rewind(); inBuf.put(input); inBuf.rewind(); outBuf.rewind()
                    interpreter.run(inBuf, outBuf)
                    outBuf.rewind(); outBuf.get(output)
                }, progress)
                return out
            }
        } finally {
            ready.delegate?.close()
        }
    }
}
