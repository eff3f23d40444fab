package org.abpn.app

import org.abpn.core.Accelerator
import org.abpn.core.BenchRequest

/** What the main process asks one accelerator process to measure (crosses the process boundary serialized). */
data class AcceleratorJob(
    val request: BenchRequest,
    val accelerator: Accelerator,
    val totalNodes: Int?,
    val debuggable: Boolean,
    /** Set when TFLite's 4 KB-aligned libraries can load only in Android 16's 16 KB backcompat mode. */
    val pageNote: String? = null,
) : java.io.Serializable
