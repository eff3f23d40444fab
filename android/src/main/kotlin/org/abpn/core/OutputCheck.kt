package org.abpn.core

import java.nio.ByteBuffer
import java.nio.ByteOrder

/**
 * How the raw bytes of an output tensor become 0..255 pixel values, the same rule as the host's
 * python/abpn/modelfile.py `decode_output`: (q - zeroPoint) * scale for integer types, then
 * round half to even and clip. Comparing pixels rather than bytes keeps an int8 output (zero
 * point -128) from wrapping: its bytes 0x7F and 0x80 are pixels 255 and 0, not neighbours.
 */
class PixelDecoding(dtype: String, scale: Float, private val zeroPoint: Int) {
    private enum class Type(val bytes: Int) { UINT8(1), INT8(1), INT16(2), FLOAT32(4) }

    private val type = when (dtype) {
        "uint8" -> Type.UINT8
        "int8" -> Type.INT8
        "int16" -> Type.INT16
        "float32" -> Type.FLOAT32
        else -> throw IllegalArgumentException("no pixel decoding for $dtype outputs")
    }

    // TFLite reports scale 0 for a tensor without quantization parameters: its values are the pixels.
    private val scale = if (scale == 0f) 1f else scale

    val bytesPerValue: Int get() = type.bytes

    /** Pixel [i] of [raw] (little-endian, as TFLite on the phone and numpy on the host write it). */
    fun pixel(raw: ByteBuffer, i: Int): Int {
        val v = when (type) {
            Type.UINT8 -> ((raw.get(i).toInt() and 0xFF) - zeroPoint).toFloat() * scale
            Type.INT8 -> (raw.get(i).toInt() - zeroPoint).toFloat() * scale
            Type.INT16 -> (raw.getShort(2 * i).toInt() - zeroPoint).toFloat() * scale
            Type.FLOAT32 -> raw.getFloat(4 * i)
        }
        val r = Math.rint(v.toDouble())
        return if (r.isNaN() || r <= 0.0) 0 else if (r >= 255.0) 255 else r.toInt()
    }

    companion object {
        /** Bytes that already are the pixels (the project's uint8-output export). */
        val RAW_UINT8 = PixelDecoding("uint8", 1f, 0)
    }
}

/**
 * The accelerator's output against the host's CPU reference: PSNR over all decoded pixel values
 * (peak 255) and the largest absolute difference, as python/abpn/record.py `output_check`. A
 * delegate that silently computes wrong pixels ends up below [THRESHOLD_DB].
 */
data class OutputCheck(val psnrDb: Double?, val maxAbsDiff: Int, val thresholdDb: Double) : java.io.Serializable {
    val passed: Boolean get() = psnrDb == null || psnrDb >= thresholdDb

    fun toJsonMap(): Map<String, Any?> = linkedMapOf(
        "psnr_db" to psnrDb?.let { round(it, 4) },
        "max_abs_diff" to maxAbsDiff,
        "threshold_db" to thresholdDb,
        "passed" to passed,
    )

    companion object {
        const val THRESHOLD_DB = 30.0

        /** [actual] and [expected] are raw output-tensor bytes, turned into pixels by [decoding]. */
        fun compare(
            actual: ByteArray,
            expected: ByteArray,
            decoding: PixelDecoding = PixelDecoding.RAW_UINT8,
            thresholdDb: Double = THRESHOLD_DB,
        ): OutputCheck {
            require(actual.size == expected.size) {
                "output has ${actual.size} bytes but the reference has ${expected.size}"
            }
            require(actual.isNotEmpty()) { "empty output" }
            require(actual.size % decoding.bytesPerValue == 0) {
                "output has ${actual.size} bytes, not a whole number of ${decoding.bytesPerValue}-byte values"
            }
            val a = ByteBuffer.wrap(actual).order(ByteOrder.LITTLE_ENDIAN)
            val e = ByteBuffer.wrap(expected).order(ByteOrder.LITTLE_ENDIAN)
            val n = actual.size / decoding.bytesPerValue
            var sumSq = 0L
            var maxDiff = 0
            for (i in 0 until n) {
                val d = Math.abs(decoding.pixel(a, i) - decoding.pixel(e, i))
                sumSq += (d * d).toLong()
                if (d > maxDiff) maxDiff = d
            }
            val psnr = if (sumSq == 0L) null else {
                val mse = sumSq.toDouble() / n
                // Bounded by the schema's maximum; a single differing pixel in 6 M cannot get near it.
                Math.min(1000.0, 10.0 * Math.log10(255.0 * 255.0 / mse))
            }
            return OutputCheck(psnr, maxDiff, thresholdDb)
        }

        private fun round(v: Double, digits: Int): Double {
            val f = Math.pow(10.0, digits.toDouble())
            return Math.rint(v * f) / f
        }
    }
}
