package org.abpn.core

/**
 * The TFLite Java API does not say how many nodes a delegate took. The runtime logs it
 * ("Replacing N out of M node(s) with delegate (NAME) node, yielding P partitions ...",
 * tensorflow/lite/core/subgraph.cc), and an app may read its own log, so the benchmark reads those
 * lines back (logcat -v epoch --pid) right after the interpreter is created: read after the timed
 * runs, the line could have rotated out of the log buffer.
 */
data class DelegationLine(val timeMs: Long, val delegated: Int, val total: Int, val delegate: String, val partitions: Int?)

/**
 * What the accelerator took. Nodes a delegate refuses run on XNNPACK, TFLite's default
 * (Interpreter::ApplyLazyDelegateProviders applies it to whatever is not yet delegated): [fallback].
 */
data class Delegation(
    val delegatedNodes: Int?,
    val totalNodes: Int?,
    val fallback: String?,
    val evidence: String?,
    /** false: the app could not read its own log back, so null counts mean "unknown", not "not delegated". */
    val logReadable: Boolean? = null,
) : java.io.Serializable {
    fun toJsonMap(): Map<String, Any?> = linkedMapOf(
        "delegated_nodes" to delegatedNodes,
        "total_nodes" to totalNodes,
        "fallback" to fallback,
        "evidence" to clip(evidence, 2000),
        "log_readable" to logReadable,
    )
}

object DelegationLog {
    const val XNNPACK = "xnnpack"

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
     * What [accelerator] took of the model's [totalNodes] (from the model file). The CPU's own
     * "delegate" is XNNPACK; any other accelerator's is the first non-XNNPACK line, XNNPACK's later
     * line being the fallback for the rest.
     */
    fun summarize(accelerator: Accelerator, lines: List<DelegationLine>, totalNodes: Int?, logReadable: Boolean? = null): Delegation {
        val cpu = accelerator == Accelerator.CPU
        val line = lines.firstOrNull { if (cpu) isXnnpack(it.delegate) else !isXnnpack(it.delegate) }
        val fallback = if (cpu) null else XNNPACK
        if (line == null && logReadable == false) {
            return Delegation(
                null, totalNodes, fallback,
                "the app could not read its own log back (its marker line was missing: an OEM build muting app logs, " +
                    "or logd pruning): how many nodes the delegate took is unknown, not zero",
                false,
            )
        }
        if (line == null) {
            val what = if (cpu) "XNNPACK" else "the ${accelerator.id} delegate"
            return Delegation(null, totalNodes, fallback, "no 'Replacing N out of M node(s) with delegate' log line for $what right after the interpreter was created", logReadable)
        }
        val parts = line.partitions?.let { ", $it partition(s)" } ?: ""
        val rest = if (!cpu && line.delegated < line.total) "; the other ${line.total - line.delegated} node(s) ran on XNNPACK/the CPU" else ""
        return Delegation(
            line.delegated, line.total, fallback,
            "TFLite log: ${line.delegated} of ${line.total} node(s) replaced by delegate (${line.delegate})$parts$rest",
            logReadable ?: true,
        )
    }

    /**
     * The GPU delegate's backend as the TFLite GPU delegate logs it when it initialises
     * (delegates/gpu/delegate.cc: "Initialized OpenCL-based API." / "Initialized OpenGL-based API.").
     */
    fun gpuBackend(lines: Iterable<String>): String {
        var backend = "unknown"
        for (l in lines) {
            if (l.contains("Initialized OpenCL-based API")) backend = "opencl"
            else if (l.contains("Initialized OpenGL-based API")) backend = "opengl"
        }
        return backend
    }
}

/** The row status a delegation earns, and the reason when it is not plainly ok. */
object DelegationVerdict {
    fun judge(accelerator: Accelerator, d: Delegation, requireFull: Boolean): Pair<Status, String?> {
        if (accelerator == Accelerator.CPU) return Status.OK to null
        val n = d.delegatedNodes
        val m = d.totalNodes
        if (n == 0) return Status.NOT_DELEGATED to "the ${accelerator.id} delegate took 0 of ${m ?: "?"} nodes: everything ran on the CPU (XNNPACK)"
        if (!requireFull) return Status.OK to null
        // Unknown because the log is muted is not a partial delegation: the row stays measured and its
        // delegation says log_readable false (the measurement's notes say require_full_delegation went unchecked).
        if (n == null && d.logReadable == false) return Status.OK to null
        if (n == null) return Status.FAILED to "the TFLite log did not say how many nodes the ${accelerator.id} delegate took (require_full_delegation)"
        if (m != null && n < m) return Status.FAILED to "delegated $n of $m nodes (require_full_delegation)"
        return Status.OK to null
    }
}
