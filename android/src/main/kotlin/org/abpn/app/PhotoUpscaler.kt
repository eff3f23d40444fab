package org.abpn.app

import android.content.Context
import android.graphics.Bitmap
import org.abpn.core.Accelerator
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
            // The tiler reads output bytes as uint8 pixels: an int8 output would wrap the colours.
            if (inT.shape != expectIn || inT.dtype != "uint8" || outT.dtype != "uint8" ||
                outT.bytes != inT.bytes * TilePlan.SCALE * TilePlan.SCALE
            ) {
                throw Unavailable(
                    "the bundled model is ${inT.shape} ${inT.dtype} -> ${outT.shape} ${outT.dtype}; " +
                        "the demo needs $expectIn uint8 -> x3 uint8",
                )
            }
            val plan = TilePlan(photo.width, photo.height)
            val out = Bitmap.createBitmap(plan.outWidth, plan.outHeight, Bitmap.Config.ARGB_8888)
            val inBuf = ByteBuffer.allocateDirect(inT.bytes).order(ByteOrder.nativeOrder())
            val outBuf = ByteBuffer.allocateDirect(outT.bytes).order(ByteOrder.nativeOrder())
            val reader = PixelReader { x, y, w, h, argb -> photo.getPixels(argb, 0, w, x, y, w, h) }
            val writer = PixelWriter { x, y, w, h, argb -> out.setPixels(argb, 0, w, x, y, w, h) }
            TiledUpscaler(plan).run(reader, writer, { input, output ->
                inBuf.rewind(); inBuf.put(input)
                engine.run(inBuf, outBuf)
                outBuf.rewind(); outBuf.get(output)
            }, progress)
            return out
        }
    }
}
