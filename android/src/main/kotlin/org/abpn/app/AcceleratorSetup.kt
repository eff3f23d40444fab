package org.abpn.app

import android.content.Context
import android.os.Build
import org.abpn.core.Accelerator
import org.tensorflow.lite.Delegate
import org.tensorflow.lite.Interpreter
import org.tensorflow.lite.gpu.CompatibilityList
import org.tensorflow.lite.gpu.GpuDelegate
import org.tensorflow.lite.gpu.GpuDelegateFactory
import org.tensorflow.lite.nnapi.NnApiDelegate

/**
 * The GPU delegate's choices where benchmark_model has a flag: [sustainedSpeed] is its
 * gpu_inference_for_sustained_speed (default false: FAST_SINGLE_ANSWER); [compatibilityList]
 * consults TFLite's GPU CompatibilityList first, which benchmark_model never does (default false).
 */
data class GpuSettings(val sustainedSpeed: Boolean = false, val compatibilityList: Boolean = false) : java.io.Serializable

/** Interpreter options for one accelerator, or why this phone cannot offer it. */
sealed class Setup {
    abstract val recordOptions: Map<String, Any?>
    abstract val notes: String?

    class Ready(
        val options: Interpreter.Options,
        val delegate: Delegate?,
        override val recordOptions: Map<String, Any?>,
        override val notes: String?,
    ) : Setup()

    class Unsupported(val reason: String, override val recordOptions: Map<String, Any?>, override val notes: String? = null) : Setup()
}

/**
 * Builds each accelerator's interpreter options from the real TFLite and QNN classes. Nodes a
 * delegate refuses run on XNNPACK, as TFLite does by default (Interpreter::ApplyLazyDelegateProviders
 * applies XNNPACK at AllocateTensors to whatever the delegates left) and as benchmark_model measures;
 * the record names that fallback. Exceptions propagate: the caller records them as `failed`.
 */
object AcceleratorSetup {
    fun prepare(context: Context, accelerator: Accelerator, threads: Int, nnapiAccelerator: String? = null, gpu: GpuSettings = GpuSettings()): Setup = when (accelerator) {
        Accelerator.CPU -> cpu(threads)
        Accelerator.GPU -> gpu(threads, gpu)
        Accelerator.NNAPI -> nnapi(threads, nnapiAccelerator)
        Accelerator.QNN_HTP -> QnnSupport.htp(context, fallbackOptions(threads))
        Accelerator.QNN_DSP -> QnnSupport.dsp(context, fallbackOptions(threads))
    }

    /** Options for the nodes an accelerator leaves to the CPU: XNNPACK with [threads], TFLite's default. */
    fun fallbackOptions(threads: Int): Interpreter.Options = Interpreter.Options().setNumThreads(threads).setUseXNNPACK(true)

    private fun cpu(threads: Int): Setup {
        val options = Interpreter.Options().setNumThreads(threads).setUseXNNPACK(true)
        return Setup.Ready(options, null, linkedMapOf("threads" to threads, "xnnpack" to true), null)
    }

    /**
     * Like benchmark_model's GPU delegate provider by default: GpuDelegateFactory.Options' defaults
     * (precision loss allowed, quantized models allowed, backend left to the delegate) with
     * FAST_SINGLE_ANSWER, and no CompatibilityList gate; [settings] chooses otherwise.
     */
    private fun gpu(threads: Int, settings: GpuSettings): Setup {
        val record = linkedMapOf<String, Any?>("fallback" to "xnnpack", "fallback_threads" to threads, "compatibility_list" to settings.compatibilityList)
        val options = if (settings.compatibilityList) {
            CompatibilityList().use { list ->
                if (!list.isDelegateSupportedOnThisDevice) {
                    return Setup.Unsupported(
                        "the TFLite GPU compatibility list does not support this GPU/driver (${Build.HARDWARE}); " +
                            "benchmark_model does not consult it: run without gpu_compatibility_list to measure anyway", record,
                    )
                }
                list.bestOptionsForThisDevice
            }
        } else GpuDelegateFactory.Options()
        gpuChoices(options, settings, record)
        val delegate = GpuDelegate(options)
        return Setup.Ready(fallbackOptions(threads).addDelegate(delegate), delegate, record, null)
    }

    /** benchmark_model's choices on [options] (or the flags' other ones), named in [record]. */
    fun gpuChoices(options: GpuDelegateFactory.Options, settings: GpuSettings, record: MutableMap<String, Any?>) {
        options.setQuantizedModelsAllowed(true)
        options.setInferencePreference(
            if (settings.sustainedSpeed) GpuDelegateFactory.Options.INFERENCE_PREFERENCE_SUSTAINED_SPEED
            else GpuDelegateFactory.Options.INFERENCE_PREFERENCE_FAST_SINGLE_ANSWER,
        )
        record["quantized_models_allowed"] = true
        record["precision_loss_allowed"] = options.isPrecisionLossAllowed
        record["inference_preference"] = if (settings.sustainedSpeed) "sustained_speed" else "fast_single_answer"
        // What was asked; GpuDelegateFactory.Options defaults to GpuBackend.UNSET (let the delegate
        // choose). The backend it chose (gpu_backend) is read from its log after creation.
        record["forced_backend"] = options.forceBackend.name.lowercase()
    }

    private fun nnapi(threads: Int, acceleratorName: String?): Setup {
        val record = linkedMapOf<String, Any?>(
            "use_nnapi_cpu" to false, "allow_fp16" to false, "execution_preference" to "sustained_speed",
            "nnapi_accelerator" to acceleratorName, "fallback" to "xnnpack", "fallback_threads" to threads,
        )
        val notes = if (Build.VERSION.SDK_INT >= 35) {
            "NNAPI is deprecated from Android 15 (API 35) but this phone still ships it; measured anyway"
        } else {
            "NNAPI is deprecated from Android 15 (API 35); this phone runs API ${Build.VERSION.SDK_INT}"
        }
        if (Build.VERSION.SDK_INT < 27) {
            return Setup.Unsupported("NNAPI needs Android 8.1 (API 27); this phone runs API ${Build.VERSION.SDK_INT}", record, notes)
        }
        val options = NnApiDelegate.Options()
            .setUseNnapiCpu(false)
            .setAllowFp16(false)
            .setExecutionPreference(NnApiDelegate.Options.EXECUTION_PREFERENCE_SUSTAINED_SPEED)
        // benchmark_model's nnapi_accelerator_name: one NNAPI device (e.g. qti-htp) instead of NNAPI's own choice.
        if (acceleratorName != null) options.setAcceleratorName(acceleratorName)
        val delegate = NnApiDelegate(options)
        return Setup.Ready(fallbackOptions(threads).addDelegate(delegate), delegate, record, notes)
    }
}
