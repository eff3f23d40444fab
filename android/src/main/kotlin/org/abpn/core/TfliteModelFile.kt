package org.abpn.core

import java.nio.ByteBuffer
import java.nio.ByteOrder

/** Shape and type of one model input or output, as the result record names them. */
data class TensorInfo(val shape: List<Int>, val dtype: String) {
    /** Bytes of the whole tensor; null for a dynamic dimension or a type the record does not name. */
    val bytes: Int? get() {
        val size = DTYPE_BYTES[dtype] ?: return null
        if (shape.any { it < 0 }) return null
        return shape.fold(size.toLong()) { n, d -> n * d }.takeIf { it <= Int.MAX_VALUE }?.toInt()
    }

    companion object {
        private val DTYPE_BYTES = mapOf("uint8" to 1, "int8" to 1, "int16" to 2, "float16" to 2, "float32" to 4)
    }
}

/**
 * Reads a .tflite file's main subgraph straight from its FlatBuffer (tensorflow/lite/schema/schema.fbs),
 * so the main process learns the model's shapes without loading TFLite's native library: that
 * library may not load at all (16 KB pages) and crashes in it belong to the accelerator processes.
 */
object TfliteModelFile {
    private const val MODEL_SUBGRAPHS = 2
    private const val SUBGRAPH_TENSORS = 0
    private const val SUBGRAPH_INPUTS = 1
    private const val SUBGRAPH_OUTPUTS = 2
    private const val SUBGRAPH_OPERATORS = 3
    private const val TENSOR_SHAPE = 0
    private const val TENSOR_TYPE = 1

    // schema.fbs TensorType values the record names; others make the tensor "unsupported".
    private val TENSOR_TYPES = mapOf(0 to "float32", 1 to "float16", 3 to "uint8", 7 to "int16", 9 to "int8")

    fun mainSubgraphOperatorCount(model: ByteBuffer): Int {
        val (b, first) = mainSubgraph(model)
        val ops = vector(b, first, SUBGRAPH_OPERATORS) ?: return 0
        return b.getInt(ops)
    }

    /** The main subgraph's single input and single output; anything else is refused with the reason. */
    fun io(model: ByteBuffer): Pair<TensorInfo, TensorInfo> {
        val (b, sg) = mainSubgraph(model)
        val tensors = vector(b, sg, SUBGRAPH_TENSORS) ?: throw IllegalArgumentException("model has no tensors")
        fun only(field: Int, what: String): TensorInfo {
            val v = vector(b, sg, field) ?: throw IllegalArgumentException("model has no $what")
            val n = b.getInt(v)
            require(n == 1) { "the benchmark expects one $what tensor, the model has $n" }
            val index = b.getInt(v + 4)
            require(index in 0 until b.getInt(tensors)) { "$what tensor index $index is out of range" }
            val entry = tensors + 4 + 4 * index
            return tensor(b, entry + b.getInt(entry))
        }
        return only(SUBGRAPH_INPUTS, "input") to only(SUBGRAPH_OUTPUTS, "output")
    }

    private fun tensor(b: ByteBuffer, table: Int): TensorInfo {
        val shape = vector(b, table, TENSOR_SHAPE)?.let { v -> List(b.getInt(v)) { b.getInt(v + 4 + 4 * it) } } ?: emptyList()
        val typeId = field(b, table, TENSOR_TYPE)?.let { b.get(it).toInt() } ?: 0
        val dtype = TENSOR_TYPES[typeId] ?: throw IllegalArgumentException("tensor type $typeId is not one of ${TENSOR_TYPES.values}")
        return TensorInfo(shape, dtype)
    }

    private fun mainSubgraph(model: ByteBuffer): Pair<ByteBuffer, Int> {
        val b = model.duplicate().order(ByteOrder.LITTLE_ENDIAN)
        require(b.limit() >= 8) { "not a TFLite model: ${b.limit()} bytes" }
        val id = String(ByteArray(4) { b.get(4 + it) }, Charsets.US_ASCII)
        require(id == "TFL3") { "not a TFLite model: file identifier '$id'" }
        val root = b.getInt(0)
        val subgraphs = vector(b, root, MODEL_SUBGRAPHS) ?: throw IllegalArgumentException("model has no subgraphs")
        require(b.getInt(subgraphs) >= 1) { "model has no subgraphs" }
        return b to subgraphs + 4 + b.getInt(subgraphs + 4)
    }

    /** Position of field [index] of the table at [table], or null when absent. */
    private fun field(b: ByteBuffer, table: Int, index: Int): Int? {
        val vtable = table - b.getInt(table)
        val vtableSize = b.getShort(vtable).toInt() and 0xFFFF
        val slot = 4 + 2 * index
        if (slot >= vtableSize) return null
        val off = b.getShort(vtable + slot).toInt() and 0xFFFF
        return if (off == 0) null else table + off
    }

    /** Position of the vector held by field [index] of the table at [table], or null when absent. */
    private fun vector(b: ByteBuffer, table: Int, index: Int): Int? = field(b, table, index)?.let { it + b.getInt(it) }
}
