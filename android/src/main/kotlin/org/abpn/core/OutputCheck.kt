package org.abpn.core

/**
 * The accelerator's output against the host's CPU reference: PSNR over all bytes of the uint8
 * output tensor (peak 255) and the largest absolute difference. A delegate that silently
 * computes wrong pixels ends up below [THRESHOLD_DB].
 */
data class OutputCheck(val psnrDb: Double?, val maxAbsDiff: Int, val thresholdDb: Double) {
    val passed: Boolean get() = psnrDb == null || psnrDb >= thresholdDb

    fun toJsonMap(): Map<String, Any?> = linkedMapOf(
        "psnr_db" to psnrDb?.let { round(it, 4) },
        "max_abs_diff" to maxAbsDiff,
        "threshold_db" to thresholdDb,
        "passed" to passed,
    )

    companion object {
        const val THRESHOLD_DB = 30.0

        /** [actual] and [expected] hold uint8 values (Kotlin bytes read as unsigned). */
        fun compareUint8(actual: ByteArray, expected: ByteArray, thresholdDb: Double = THRESHOLD_DB): OutputCheck {
            require(actual.size == expected.size) {
                "output has ${actual.size} bytes but the reference has ${expected.size}"
            }
            require(actual.isNotEmpty()) { "empty output" }
            var sumSq = 0L
            var maxDiff = 0
            for (i in actual.indices) {
                val d = Math.abs((actual[i].toInt() and 0xFF) - (expected[i].toInt() and 0xFF))
                sumSq += (d * d).toLong()
                if (d > maxDiff) maxDiff = d
            }
            val psnr = if (sumSq == 0L) null else {
                val mse = sumSq.toDouble() / actual.size
                // Bounded by the schema's maximum; a single differing byte in 6 M cannot get near it.
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
