package org.abpn.core

/**
 * Latency statistics in milliseconds, defined as numpy computes them on the host:
 * median and p90 by linear interpolation between order statistics, std as population std.
 */
data class LatencyStats(
    val min: Double,
    val median: Double,
    val mean: Double,
    val p90: Double,
    val max: Double,
    val std: Double,
) {
    fun toJsonMap(): Map<String, Any?> = linkedMapOf(
        "min" to min, "median" to median, "mean" to mean, "p90" to p90, "max" to max, "std" to std,
    )

    companion object {
        fun of(samplesMs: List<Double>): LatencyStats {
            require(samplesMs.isNotEmpty()) { "no latency samples" }
            require(samplesMs.all { it >= 0.0 && !it.isNaN() && !it.isInfinite() }) { "bad latency sample in $samplesMs" }
            val sorted = samplesMs.sorted()
            val mean = sorted.sum() / sorted.size
            val variance = sorted.sumOf { (it - mean) * (it - mean) } / sorted.size
            return LatencyStats(
                min = sorted.first(),
                median = percentile(sorted, 50.0),
                mean = mean,
                p90 = percentile(sorted, 90.0),
                max = sorted.last(),
                std = Math.sqrt(variance),
            )
        }

        /** numpy.percentile(..., method="linear") on an already sorted list. */
        fun percentile(sorted: List<Double>, q: Double): Double {
            require(q in 0.0..100.0)
            val pos = (sorted.size - 1) * q / 100.0
            val lo = Math.floor(pos).toInt()
            val hi = Math.ceil(pos).toInt()
            return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo)
        }
    }
}
