package org.abpn.core

/**
 * The TFLite Java API does not say how many nodes a delegate took. The runtime logs it
 * ("Replacing N out of M node(s) with delegate (NAME) node, yielding P partitions ..."), and an
 * app may read its own log, so the benchmark reads those lines back (logcat -v epoch --pid).
 */
data class DelegationLine(val timeMs: Long, val delegated: Int, val total: Int, val delegate: String, val partitions: Int?)

object DelegationLog {
    private val EPOCH = Regex("^\\s*(\\d+)\\.(\\d{3})")
    private val REPLACING = Regex(
        "Replacing (\\d+) out of (\\d+) node\\(s\\) with delegate \\(([^)]*)\\) node(?:, yielding (\\d+) partitions?)?"
    )

    fun parse(lines: Iterable<String>, sinceMs: Long): List<DelegationLine> {
        val found = ArrayList<DelegationLine>()
        for (line in lines) {
            val m = REPLACING.find(line) ?: continue
            val t = EPOCH.find(line)?.let { it.groupValues[1].toLong() * 1000 + it.groupValues[2].toLong() } ?: continue
            if (t < sinceMs) continue
            found.add(
                DelegationLine(
                    t, m.groupValues[1].toInt(), m.groupValues[2].toInt(), m.groupValues[3],
                    m.groupValues[4].takeIf { it.isNotEmpty() }?.toInt(),
                )
            )
        }
        return found
    }

    private fun isXnnpack(name: String) = name.contains("XNNPack", ignoreCase = true)

    /**
     * What the accelerator took. [totalNodes] comes from the model file; [medianMs] and
     * [cpuMedianMs] (when the CPU ran in the same run) make a silent fallback visible when the
     * log says nothing.
     */
    fun summarize(
        accelerator: Accelerator,
        lines: List<DelegationLine>,
        totalNodes: Int?,
        medianMs: Double?,
        cpuMedianMs: Double?,
    ): Delegation {
        val mine = lines.filter { if (accelerator == Accelerator.CPU) isXnnpack(it.delegate) else !isXnnpack(it.delegate) }
        val line = mine.lastOrNull()
        val timing = timingEvidence(accelerator, medianMs, cpuMedianMs)
        if (line == null) {
            val what = if (accelerator == Accelerator.CPU) "XNNPACK" else "the ${accelerator.id} delegate"
            val evidence = "no 'Replacing N out of M node(s) with delegate' log line for $what was found" +
                (timing?.let { "; $it" } ?: "")
            return Delegation(null, totalNodes, evidence)
        }
        val parts = line.partitions?.let { ", $it partition(s)" } ?: ""
        val rest = if (line.delegated < line.total) "; the other ${line.total - line.delegated} node(s) ran on the CPU" else ""
        val evidence = "TFLite log: ${line.delegated} of ${line.total} node(s) replaced by delegate (${line.delegate})$parts$rest" +
            (timing?.let { "; $it" } ?: "")
        return Delegation(line.delegated, line.total, evidence)
    }

    private fun timingEvidence(accelerator: Accelerator, medianMs: Double?, cpuMedianMs: Double?): String? {
        if (accelerator == Accelerator.CPU || medianMs == null || cpuMedianMs == null || cpuMedianMs <= 0.0) return null
        val ratio = medianMs / cpuMedianMs
        val base = "median %.2f ms vs CPU %.2f ms (x%.2f)".format(java.util.Locale.US, medianMs, cpuMedianMs, ratio)
        return if (Math.abs(ratio - 1.0) <= 0.1) "$base: timing matches the CPU, a likely CPU fallback" else base
    }
}
