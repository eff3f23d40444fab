package org.abpn.app

import org.abpn.core.Accelerator
import org.abpn.core.BenchRequest

/** What the main process asks one accelerator process to measure (crosses the process boundary serialized). */
data class AcceleratorJob(
    val request: BenchRequest,
    val accelerator: Accelerator,
    val totalNodes: Int?,
    val debuggable: Boolean,
) : java.io.Serializable
