package org.abpn.core

/** One inference: the runtime's own invoke time when it reports one, and the wall time of the whole call with copies. */
data class Inference(val nativeMs: Double?, val wallMs: Double)

/** A phase of inferences (warm-up or timed) and how long it took from start to end. */
data class Phase(val inferences: List<Inference>, val elapsedMs: Double)

/**
 * Repeats an inference until both a count and a minimum duration are reached, the rule of
 * benchmark_model's warm-up (warmup_runs, warmup_min_secs) and timed runs (num_runs, min_secs),
 * with its max_secs cap of 150 s (tensorflow/lite/tools/benchmark/benchmark_model.cc, Run(): the
 * loop runs while `(run < min_num_times || now < min_finish) && now <= max_finish`).
 */
object TimedLoop {
    const val MAX_MS = 150_000L

    /** The schema's limit on samples is 100 000; a very fast model with a long minimum stops here. */
    const val MAX_COUNT = 10_000

    fun repeat(minCount: Int, minMs: Long, nowNs: () -> Long, once: () -> Inference): Phase {
        val start = nowNs()
        val done = ArrayList<Inference>()
        while (done.size < MAX_COUNT) {
            val elapsedMs = (nowNs() - start) / 1e6
            if (done.size >= minCount && elapsedMs >= minMs) break
            if (elapsedMs > MAX_MS) break
            done.add(once())
        }
        return Phase(done, (nowNs() - start) / 1e6)
    }
}
