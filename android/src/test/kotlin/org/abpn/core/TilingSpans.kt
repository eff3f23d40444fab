package org.abpn.core

import java.io.File

/**
 * Writes the Kotlin tile spans for a set of axis lengths as JSON, for tests/test_kotlin_tiling.py,
 * which checks them against the host's python/abpn/tiling.py.
 */
object TilingSpans {
    val LENGTHS = listOf(1, 5, 359, 360, 361, 374, 375, 640, 641, 653, 654, 1000, 1080, 1920, 2000, 4032)

    @JvmStatic
    fun main(args: Array<String>) {
        require(args.size == 1) { "usage: TilingSpans <output file>" }
        val cases = ArrayList<Map<String, Any?>>()
        for (tile in listOf(TilePlan.MODEL_H, TilePlan.MODEL_W)) {
            for (length in LENGTHS) {
                val spans = TileAxis.spans(length, tile, TilePlan.RECEPTIVE_RADIUS)
                cases.add(linkedMapOf(
                    "length" to length, "tile" to tile, "overlap" to TilePlan.RECEPTIVE_RADIUS,
                    "spans" to spans.map { listOf(it.start, it.keepStart, it.keepEnd) },
                ))
            }
        }
        File(args[0]).apply { parentFile.mkdirs() }.writeText(Json.encode(cases))
        println("wrote ${cases.size} tiling cases to ${args[0]}")
    }
}
