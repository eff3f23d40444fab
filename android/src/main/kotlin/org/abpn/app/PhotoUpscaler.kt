package org.abpn.app

import android.content.Context
import android.graphics.Bitmap
import org.abpn.core.Accelerator
import org.abpn.core.PixelIo
import org.abpn.core.PixelReader
import org.abpn.core.PixelWriter
import org.abpn.core.TilePlan
import org.abpn.core.TiledUpscaler
import java.nio.ByteBuffer
import java.nio.ByteOrder

/** x3 upscaling of a photo with the bundled model, tile by tile (see org.abpn.core.TilePlan). */
class PhotoUpscaler(private val context: Context) {
    class Unavailable(message: String) : Exception(message)

    fun upscale(photo: Bitmap, accelerator: Accelerator, threads: Int, progress: (Int, Int) -> Unit): Bitmap {
        val created = Engines.factory.create(context, BundledModel.map(context), accelerator, threads)
        if (created is EngineCreation.Unavailable) throw Unavailable("${accelerator.id} is not available: ${created.reason}")
        (created as EngineCreation.Ready).engine.use { engine ->
            val inT = engine.input
            val outT = engine.output
            val expectIn = listOf(1, TilePlan.MODEL_H, TilePlan.MODEL_W, 3)
            // Pixels in, pixels out: uint8 bytes as they are, or int8 bytes with the top bit flipped
            // (the bundled model: no uint8<->int8 QUANTIZE ops for the model to run every tile).
            val io = PixelIo.of(inT.dtype, inT.scale, inT.zeroPoint)
            if (inT.shape != expectIn || io == null || PixelIo.of(outT.dtype, outT.scale, outT.zeroPoint) != io ||
                outT.bytes != inT.bytes * TilePlan.SCALE * TilePlan.SCALE
            ) {
                throw Unavailable(
                    "the bundled model is ${inT.shape} ${inT.dtype} (zero point ${inT.zeroPoint}) -> ${outT.shape} " +
                        "${outT.dtype} (zero point ${outT.zeroPoint}); the demo needs $expectIn pixels, uint8 or int8 " +
                        "(scale 1, zero point 0 or -128), -> x3 pixels of the same type",
                )
            }
            val plan = TilePlan(photo.width, photo.height)
            val out = Bitmap.createBitmap(plan.outWidth, plan.outHeight, Bitmap.Config.ARGB_8888)
            val inBuf = ByteBuffer.allocateDirect(inT.bytes).order(ByteOrder.nativeOrder())
            val outBuf = ByteBuffer.allocateDirect(outT.bytes).order(ByteOrder.nativeOrder())
            val reader = PixelReader { x, y, w, h, argb -> photo.getPixels(argb, 0, w, x, y, w, h) }
            val writer = PixelWriter { x, y, w, h, argb -> out.setPixels(argb, 0, w, x, y, w, h) }
            TiledUpscaler(plan, io).run(reader, writer, { input, output ->
                inBuf.rewind(); inBuf.put(input)
                engine.run(inBuf, outBuf)
                outBuf.rewind(); outBuf.get(output)
            }, progress)
            return out
        }
    }
}
