package org.abpn.core

/** The accelerator names of docs/phone-protocol.md and the result record. */
enum class Accelerator(val id: String) {
    CPU("cpu"), GPU("gpu"), NNAPI("nnapi"), QNN_HTP("qnn_htp"), QNN_DSP("qnn_dsp");

    companion object {
        fun fromId(id: String): Accelerator? = values().firstOrNull { it.id == id }
        val ids: List<String> get() = values().map { it.id }
    }
}
