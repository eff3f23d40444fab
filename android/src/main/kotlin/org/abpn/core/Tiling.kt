package org.abpn.core

/**
 * Exact tiling for a fixed-shape model, the same rule as the host's python/abpn/tiling.py
 * (tests/test_kotlin_tiling.py compares the two):
 * - along each axis, tiles advance by (tile - 2 * margin) so neighbours overlap by 2 * margin;
 * - the last tile of a row/column is shifted back so it ends at the image edge (every tile is full size);
 * - each tile keeps only its interior: a kept pixel is at least `margin` LR pixels from any tile edge
 *   that is not also an image edge, so with margin >= the receptive radius (7 for ABPN's seven 3x3
 *   convolutions) the stitched result equals running the network on the whole image;
 * - an axis shorter than the tile gets one tile, filled by edge replication, and the output is cropped.
 */
data class Span(val start: Int, val keepStart: Int, val keepEnd: Int)

object TileAxis {
    fun spans(length: Int, tile: Int, margin: Int): List<Span> {
        require(length >= 1 && tile >= 1 && margin >= 0) { "bad axis: length=$length tile=$tile margin=$margin" }
        if (length <= tile) return listOf(Span(0, 0, length))
        val step = tile - 2 * margin
        require(step >= 1) { "tile $tile is too small for margin $margin" }
        val starts = ArrayList<Int>()
        var p = 0
        while (true) {
            starts.add(p)
            if (p + tile >= length) break
            p = Math.min(p + step, length - tile)
        }
        val spans = ArrayList<Span>(starts.size)
        for ((k, s) in starts.withIndex()) {
            val keepStart = if (k == 0) 0 else spans[k - 1].keepEnd
            val keepEnd = if (k == starts.size - 1) length else s + tile - margin
            spans.add(Span(s, keepStart, keepEnd))
        }
        return spans
    }
}

data class Tile(val x: Int, val y: Int, val keepX0: Int, val keepX1: Int, val keepY0: Int, val keepY1: Int)

class TilePlan(
    val width: Int,
    val height: Int,
    val tileW: Int = MODEL_W,
    val tileH: Int = MODEL_H,
    val margin: Int = RECEPTIVE_RADIUS,
    val scale: Int = SCALE,
) {
    val tiles: List<Tile> = TileAxis.spans(height, tileH, margin).flatMap { ys ->
        TileAxis.spans(width, tileW, margin).map { xs ->
            Tile(xs.start, ys.start, xs.keepStart, xs.keepEnd, ys.keepStart, ys.keepEnd)
        }
    }
    val outWidth: Int get() = width * scale
    val outHeight: Int get() = height * scale

    companion object {
        const val MODEL_W = 640
        const val MODEL_H = 360
        const val SCALE = 3
        const val RECEPTIVE_RADIUS = 7

        /**
         * The demo's output-size limit: 36 megapixels (144 MB as ARGB_8888), i.e. inputs up to 4 MP.
         * Larger photos are reduced before upscaling; the demo tells the user.
         */
        const val MAX_OUTPUT_PIXELS = 36_000_000L

        /** The input size to upscale so the output stays within [maxOutputPixels], aspect kept. */
        fun fitInput(width: Int, height: Int, scale: Int = SCALE, maxOutputPixels: Long = MAX_OUTPUT_PIXELS): Pair<Int, Int> {
            val out = width.toLong() * height * scale * scale
            if (out <= maxOutputPixels) return width to height
            val f = Math.sqrt(maxOutputPixels.toDouble() / out)
            return Math.max(1, Math.floor(width * f).toInt()) to Math.max(1, Math.floor(height * f).toInt())
        }
    }
}

/** Reads ARGB pixels of a rectangle, row after row (Bitmap.getPixels on the phone). */
fun interface PixelReader { fun read(x: Int, y: Int, w: Int, h: Int, argb: IntArray) }

/** Writes ARGB pixels of a rectangle, row after row (Bitmap.setPixels on the phone). */
fun interface PixelWriter { fun write(x: Int, y: Int, w: Int, h: Int, argb: IntArray) }

/**
 * Runs [infer] (RGB tile in, RGB x[scale] tile out, both as the model's tensor bytes in the form
 * [io]) over a [TilePlan]. The int8 form's top-bit flip happens while packing and unpacking.
 */
class TiledUpscaler(private val plan: TilePlan, io: PixelIo = PixelIo.UINT8) {
    private val flip = io.flip
    private val input = ByteArray(plan.tileW * plan.tileH * 3)
    private val output = ByteArray(plan.tileW * plan.scale * plan.tileH * plan.scale * 3)
    private val region = IntArray(plan.tileW * plan.tileH)
    private val kept = IntArray(plan.tileW * plan.scale * plan.tileH * plan.scale)

    fun run(src: PixelReader, dst: PixelWriter, infer: (ByteArray, ByteArray) -> Unit, progress: (Int, Int) -> Unit = { _, _ -> }) {
        for ((i, t) in plan.tiles.withIndex()) {
            packTile(t, src)
            infer(input, output)
            unpackInterior(t, dst)
            progress(i + 1, plan.tiles.size)
        }
    }

    private fun packTile(t: Tile, src: PixelReader) {
        val rw = Math.min(plan.tileW, plan.width)
        val rh = Math.min(plan.tileH, plan.height)
        src.read(t.x, t.y, rw, rh, region)
        var o = 0
        for (ty in 0 until plan.tileH) {
            val row = Math.min(ty, rh - 1) * rw
            for (tx in 0 until plan.tileW) {
                val p = region[row + Math.min(tx, rw - 1)]
                input[o] = ((p shr 16) xor flip).toByte()
                input[o + 1] = ((p shr 8) xor flip).toByte()
                input[o + 2] = (p xor flip).toByte()
                o += 3
            }
        }
    }

    private fun unpackInterior(t: Tile, dst: PixelWriter) {
        val s = plan.scale
        val outTileW = plan.tileW * s
        val x0 = (t.keepX0 - t.x) * s
        val y0 = (t.keepY0 - t.y) * s
        val w = (t.keepX1 - t.keepX0) * s
        val h = (t.keepY1 - t.keepY0) * s
        var k = 0
        for (y in y0 until y0 + h) {
            var o = (y * outTileW + x0) * 3
            for (x in 0 until w) {
                kept[k++] = (0xFF shl 24) or
                    (((output[o].toInt() xor flip) and 0xFF) shl 16) or
                    (((output[o + 1].toInt() xor flip) and 0xFF) shl 8) or
                    ((output[o + 2].toInt() xor flip) and 0xFF)
                o += 3
            }
        }
        dst.write(t.keepX0 * s, t.keepY0 * s, w, h, kept)
    }
}
