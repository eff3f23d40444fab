package org.abpn.app

import android.content.Context
import android.os.Build
import com.qualcomm.qti.QnnDelegate
import org.tensorflow.lite.Interpreter

/** The QNN delegate (Qualcomm AI Engine Direct), in the "full" build that bundles its runtime. */
object QnnSupport {
    const val BUNDLED = true

    private fun notQualcomm(): String? {
        if (Build.VERSION.SDK_INT >= 31 && !Build.SOC_MANUFACTURER.equals("QTI", true) &&
            !Build.SOC_MANUFACTURER.contains("Qualcomm", true)
        ) return "QNN runs on Qualcomm SoCs only; this phone's SoC is ${Build.SOC_MANUFACTURER} ${Build.SOC_MODEL}"
        return null
    }

    /**
     * Asks the runtime; a runtime that cannot even load here means the phone lacks the hardware.
     * LinkageError: the first failed load is an UnsatisfiedLinkError, later uses of the class a
     * NoClassDefFoundError.
     */
    private fun capability(cap: QnnDelegate.Capability): Pair<Boolean, String?> = try {
        QnnDelegate.checkCapability(cap) to null
    } catch (e: LinkageError) {
        false to "the QNN runtime does not load on this phone (${e.javaClass.simpleName}: ${e.message})"
    }

    fun htp(context: Context, base: Interpreter.Options): Setup {
        val record = linkedMapOf<String, Any?>(
            "backend" to "htp", "performance_mode" to "burst", "precision" to "quantized",
            "skel_library_dir" to "nativeLibraryDir", "fallback" to "xnnpack",
        )
        notQualcomm()?.let { return Setup.Unsupported(it, record) }
        val (ok, why) = capability(QnnDelegate.Capability.HTP_RUNTIME_QUANTIZED)
        if (!ok) return Setup.Unsupported(why ?: "QNN reports no quantized HTP runtime on this SoC", record)
        val options = QnnDelegate.Options()
        options.setBackendType(QnnDelegate.Options.BackendType.HTP_BACKEND)
        options.setSkelLibraryDir(context.applicationInfo.nativeLibraryDir)
        options.setHtpPerformanceMode(QnnDelegate.Options.HtpPerformanceMode.HTP_PERFORMANCE_BURST)
        options.setHtpPrecision(QnnDelegate.Options.HtpPrecision.HTP_PRECISION_QUANTIZED)
        val delegate = QnnDelegate(options)
        return Setup.Ready(base.addDelegate(delegate), delegate, record, null)
    }

    fun dsp(context: Context, base: Interpreter.Options): Setup {
        val record = linkedMapOf<String, Any?>(
            "backend" to "dsp", "performance_mode" to "burst", "pd_session" to "adaptive",
            "skel_library_dir" to "nativeLibraryDir", "fallback" to "xnnpack",
        )
        notQualcomm()?.let { return Setup.Unsupported(it, record) }
        val (ok, why) = capability(QnnDelegate.Capability.DSP_RUNTIME)
        if (!ok) return Setup.Unsupported(why ?: "QNN reports no DSP runtime (the DSP backend serves older, pre-HTP Hexagon chips)", record)
        val options = QnnDelegate.Options()
        options.setBackendType(QnnDelegate.Options.BackendType.DSP_BACKEND)
        options.setSkelLibraryDir(context.applicationInfo.nativeLibraryDir)
        options.setDspOptions(
            QnnDelegate.Options.DspPerformanceMode.DSP_PERFORMANCE_BURST,
            QnnDelegate.Options.DspPdSession.DSP_PD_SESSION_ADAPTIVE,
        )
        val delegate = QnnDelegate(options)
        return Setup.Ready(base.addDelegate(delegate), delegate, record, null)
    }
}
