package org.abpn.core

import java.nio.ByteBuffer
import java.nio.ByteOrder

/** Reads the operator count of a .tflite file's main subgraph straight from its FlatBuffer. */
object TfliteModelFile {
    private const val MODEL_SUBGRAPHS = 2
    private const val SUBGRAPH_OPERATORS = 3

    fun mainSubgraphOperatorCount(model: ByteBuffer): Int {
        val b = model.duplicate().order(ByteOrder.LITTLE_ENDIAN)
        require(b.limit() >= 8) { "not a TFLite model: ${b.limit()} bytes" }
        val id = String(ByteArray(4) { b.get(4 + it) }, Charsets.US_ASCII)
        require(id == "TFL3") { "not a TFLite model: file identifier '$id'" }
        val root = b.getInt(0)
        val subgraphs = vector(b, root, MODEL_SUBGRAPHS) ?: throw IllegalArgumentException("model has no subgraphs")
        require(b.getInt(subgraphs) >= 1) { "model has no subgraphs" }
        val first = subgraphs + 4 + b.getInt(subgraphs + 4)
        val ops = vector(b, first, SUBGRAPH_OPERATORS) ?: return 0
        return b.getInt(ops)
    }

    /** Position of the vector held by field [index] of the table at [table], or null when absent. */
    private fun vector(b: ByteBuffer, table: Int, index: Int): Int? {
        val vtable = table - b.getInt(table)
        val vtableSize = b.getShort(vtable).toInt() and 0xFFFF
        val slot = 4 + 2 * index
        if (slot >= vtableSize) return null
        val off = b.getShort(vtable + slot).toInt() and 0xFFFF
        if (off == 0) return null
        val field = table + off
        return field + b.getInt(field)
    }
}
