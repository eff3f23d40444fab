package org.abpn.core

/** One accelerator's outcome in an earlier benchmark on this phone. */
data class PastResult(val accelerator: Accelerator, val ok: Boolean, val outputPassed: Boolean?, val medianMs: Double?)

object AcceleratorChoice {
    /**
     * The demo's default: the fastest accelerator that ran and passed its output check on this
     * phone; the CPU when no benchmark says otherwise. A result without an output check (the run
     * had no reference) does not count: its pixels are unverified.
     */
    fun pick(past: List<PastResult>, available: Collection<Accelerator> = Accelerator.values().toList()): Accelerator =
        past.filter { it.ok && it.outputPassed == true && it.medianMs != null && it.accelerator in available }
            .minByOrNull { it.medianMs!! }?.accelerator ?: Accelerator.CPU
}
