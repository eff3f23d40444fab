package org.abpn.core

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test

class TilingTest {
    @Test fun spansPartitionTheAxisWithFullTilesAndInteriorMargins() {
        for (length in listOf(1, 5, 360, 361, 371, 400, 640, 641, 1000, 1920, 4032)) {
            for ((tile, margin) in listOf(360 to 7, 640 to 7, 20 to 3)) {
                val spans = TileAxis.spans(length, tile, margin)
                assertEquals(0, spans.first().keepStart)
                assertEquals(length, spans.last().keepEnd)
                for ((k, s) in spans.withIndex()) {
                    if (k > 0) assertEquals(spans[k - 1].keepEnd, s.keepStart)
                    assertTrue("empty keep $s", s.keepEnd > s.keepStart)
                    if (length >= tile) {
                        assertTrue("tile outside image: $s", s.start >= 0 && s.start + tile <= length)
                        // a kept pixel is >= margin from a tile edge unless that edge is the image edge
                        if (s.start > 0) assertTrue("$s", s.keepStart - s.start >= margin)
                        if (s.start + tile < length) assertTrue("$s", s.start + tile - s.keepEnd >= margin)
                    } else {
                        assertEquals(listOf(Span(0, 0, length)), spans)
                    }
                }
            }
        }
    }

    @Test fun lastTileIsShiftedBackInside() {
        val spans = TileAxis.spans(1000, 640, 7)
        assertEquals(listOf(0, 360), spans.map { it.start })
        assertEquals(listOf(0 to 633, 633 to 1000), spans.map { it.keepStart to it.keepEnd })
    }

    @Test fun planCoversTheImageOnce() {
        val plan = TilePlan(1500, 1000)
        val hits = IntArray(1500 * 1000)
        for (t in plan.tiles) for (y in t.keepY0 until t.keepY1) for (x in t.keepX0 until t.keepX1) hits[y * 1500 + x]++
        assertTrue(hits.all { it == 1 })
    }

    /** A stand-in network with a known receptive radius: zero-padded box sum, then nearest x[scale]. */
    private fun network(rgb: ByteArray, w: Int, h: Int, radius: Int, scale: Int): ByteArray {
        val out = ByteArray(w * scale * h * scale * 3)
        for (y in 0 until h) for (x in 0 until w) for (c in 0 until 3) {
            var sum = 0
            for (dy in -radius..radius) for (dx in -radius..radius) {
                val yy = y + dy; val xx = x + dx
                if (yy in 0 until h && xx in 0 until w) sum += (rgb[(yy * w + xx) * 3 + c].toInt() and 0xFF) * (1 + ((dx + dy) and 3))
            }
            val v = (sum % 251).toByte()
            for (sy in 0 until scale) for (sx in 0 until scale) out[(((y * scale + sy) * w * scale) + x * scale + sx) * 3 + c] = v
        }
        return out
    }

    private fun argbToRgb(argb: IntArray): ByteArray {
        val b = ByteArray(argb.size * 3)
        for (i in argb.indices) { b[3 * i] = (argb[i] shr 16).toByte(); b[3 * i + 1] = (argb[i] shr 8).toByte(); b[3 * i + 2] = argb[i].toByte() }
        return b
    }

    private fun tiled(image: IntArray, w: Int, h: Int, tileW: Int, tileH: Int, margin: Int, radius: Int): IntArray {
        val plan = TilePlan(w, h, tileW, tileH, margin, 3)
        val out = IntArray(plan.outWidth * plan.outHeight)
        val reader = PixelReader { x, y, rw, rh, dst -> for (r in 0 until rh) System.arraycopy(image, (y + r) * w + x, dst, r * rw, rw) }
        val writer = PixelWriter { x, y, ww, hh, src -> for (r in 0 until hh) System.arraycopy(src, r * ww, out, (y + r) * plan.outWidth + x, ww) }
        var calls = 0
        TiledUpscaler(plan).run(reader, writer, { input, output ->
            calls++
            System.arraycopy(network(input, tileW, tileH, radius, 3), 0, output, 0, output.size)
        })
        assertEquals(plan.tiles.size, calls)
        return out
    }

    private fun randomImage(w: Int, h: Int): IntArray {
        val rnd = java.util.Random(42)
        return IntArray(w * h) { (0xFF shl 24) or rnd.nextInt(1 shl 24) }
    }

    @Test fun seamsAreExactWhenMarginCoversTheReceptiveRadius() {
        val (w, h) = 47 to 31
        val image = randomImage(w, h)
        val whole = network(argbToRgb(image), w, h, 2, 3)
        val out = tiled(image, w, h, 16, 12, 2, 2)
        assertArrayEquals(whole, argbToRgb(out))
    }

    @Test fun aTooSmallMarginShowsSeams() {
        val (w, h) = 47 to 31
        val image = randomImage(w, h)
        val whole = network(argbToRgb(image), w, h, 2, 3)
        val out = tiled(image, w, h, 16, 12, 1, 2)
        assertTrue(!whole.contentEquals(argbToRgb(out)))
    }

    @Test fun smallImageIsPaddedByEdgeReplicationAndCropped() {
        val (w, h) = 5 to 3
        val image = randomImage(w, h)
        val plan = TilePlan(w, h, 8, 6, 2, 3)
        var seenInput: ByteArray? = null
        val out = IntArray(plan.outWidth * plan.outHeight)
        TiledUpscaler(plan).run(
            { x, y, rw, rh, dst -> for (r in 0 until rh) System.arraycopy(image, (y + r) * w + x, dst, r * rw, rw) },
            { x, y, ww, hh, src -> for (r in 0 until hh) System.arraycopy(src, r * ww, out, (y + r) * plan.outWidth + x, ww) },
            { input, output ->
                seenInput = input.copyOf()
                // nearest x3 of the tile itself
                for (y in 0 until 18) for (x in 0 until 24) for (c in 0 until 3) output[(y * 24 + x) * 3 + c] = input[((y / 3) * 8 + x / 3) * 3 + c]
            },
        )
        val tile = seenInput!!
        // bottom-right padding repeats the last pixel of the image
        val last = image[(h - 1) * w + (w - 1)]
        assertEquals((last shr 16).toByte(), tile[(5 * 8 + 7) * 3])
        for (y in 0 until h * 3) for (x in 0 until w * 3) assertEquals(image[(y / 3) * w + x / 3], out[y * plan.outWidth + x])
    }

    @Test fun fitInputKeepsTheOutputLimit() {
        assertEquals(2000 to 1500, TilePlan.fitInput(2000, 1500))
        val (w, h) = TilePlan.fitInput(4032, 3024)
        assertTrue(w.toLong() * h * 9 <= TilePlan.MAX_OUTPUT_PIXELS)
        assertEquals(4032.0 / 3024.0, w.toDouble() / h, 0.01)
    }
}
