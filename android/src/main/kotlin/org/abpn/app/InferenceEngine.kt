package org.abpn.app

import android.content.Context
import org.abpn.core.Accelerator
import org.tensorflow.lite.Interpreter
import org.tensorflow.lite.Tensor
import org.tensorflow.lite.TensorFlowLite
import java.nio.ByteBuffer

/**
 * The one place the app touches an inference runtime. It exists because TFLite's JNI library cannot
 * load on a desktop JVM: Robolectric tests swap [Engines.factory] for an engine that computes a known
 * function on the same buffers, and everything around it (activities, files, bitmaps, threads) stays real.
 */
interface InferenceEngine : AutoCloseable {
    val input: TensorSpec
    val output: TensorSpec

    /** Creating the runtime's interpreter and allocating its tensors, without the accelerator's option setup. */
    val initNanos: Long

    /** Reads [input] from position 0 and fills [output] from position 0; both direct, native order. */
    fun run(input: ByteBuffer, output: ByteBuffer)

    /** The runtime's own timing of the last [run], without the JNI copies; null when it does not say. */
    val lastNativeInferenceNanos: Long?

    override fun close()
}

/** dtype uses the result record's names (uint8, int8, int16, float32, ...). */
data class TensorSpec(
    val shape: List<Int>,
    val dtype: String,
    val bytes: Int,
    val scale: Float,
    val zeroPoint: Int,
)

/** What asking for an engine gives; a runtime or delegate error during creation is thrown (a `failed` result). */
sealed class EngineCreation {
    /** The record's `options` of this accelerator and its notes, known even when it is unavailable. */
    abstract val recordOptions: Map<String, Any?>
    abstract val notes: String?

    class Ready(val engine: InferenceEngine, override val recordOptions: Map<String, Any?>, override val notes: String?) : EngineCreation()

    class Unavailable(val reason: String, override val recordOptions: Map<String, Any?>, override val notes: String?) : EngineCreation()
}

interface EngineFactory {
    /** The record's `app.runtime` and `app.runtime_version`. */
    val runtimeName: String
    fun runtimeVersion(): String

    /**
     * What the runtime has logged in this process, as `logcat -v epoch` lines. TFLite's Java API does
     * not say how many nodes a delegate took or which GPU backend it chose; its log does (DelegationLog).
     * The log is a ring buffer shared with the whole phone: read it soon, before the lines rotate out.
     */
    fun runtimeLog(): List<String>

    /**
     * [model] must stay valid until the engine is closed (the runtime may read it in place).
     * [nnapiAccelerator] names one NNAPI device (benchmark_model's nnapi_accelerator_name, e.g.
     * qti-htp); a factory without such a setting ignores it.
     */
    fun create(context: Context, model: ByteBuffer, accelerator: Accelerator, threads: Int, nnapiAccelerator: String? = null): EngineCreation

    /** The same with the GPU delegate's settings; a factory without such settings ignores them. */
    fun create(context: Context, model: ByteBuffer, accelerator: Accelerator, threads: Int, nnapiAccelerator: String?, gpu: GpuSettings): EngineCreation =
        create(context, model, accelerator, threads, nnapiAccelerator)

    /**
     * Writes [marker] to the log that [runtimeLog] reads: finding it there again tells "the log is
     * readable and says nothing" from "the log is muted" (some OEM builds, logd pruning).
     */
    fun writeLogMarker(marker: String) { android.util.Log.i(ResultFiles.TAG, marker) }
}

object Engines {
    @Volatile
    var factory: EngineFactory = TfliteEngines
}

/** TFLite (or LiteRT, same Java API) with each accelerator's options from [AcceleratorSetup]. */
object TfliteEngines : EngineFactory {
    override val runtimeName = "tflite"

    override fun runtimeVersion(): String = TensorFlowLite.runtimeVersion()

    /** TFLite logs through Android's log (tag "tflite"), which an app may read for its own pid. */
    override fun runtimeLog(): List<String> = DeviceProbe.ownLogLines()

    override fun create(context: Context, model: ByteBuffer, accelerator: Accelerator, threads: Int, nnapiAccelerator: String?): EngineCreation =
        create(context, model, accelerator, threads, nnapiAccelerator, GpuSettings())

    override fun create(context: Context, model: ByteBuffer, accelerator: Accelerator, threads: Int, nnapiAccelerator: String?, gpu: GpuSettings): EngineCreation {
        val setup = AcceleratorSetup.prepare(context, accelerator, threads, nnapiAccelerator, gpu)
        if (setup is Setup.Unsupported) return EngineCreation.Unavailable(setup.reason, setup.recordOptions, setup.notes)
        val ready = setup as Setup.Ready
        try {
            val start = System.nanoTime()
            val interpreter = Interpreter(model, ready.options)
            try {
                // The interface speaks of one input and one output; say so instead of ignoring the rest.
                require(interpreter.inputTensorCount == 1 && interpreter.outputTensorCount == 1) {
                    "the app expects one input and one output tensor, the model has " +
                        "${interpreter.inputTensorCount} and ${interpreter.outputTensorCount}"
                }
                interpreter.allocateTensors()
            } catch (e: Throwable) {
                interpreter.close(); throw e
            }
            val engine = TfliteEngine(interpreter, ready, System.nanoTime() - start)
            return EngineCreation.Ready(engine, ready.recordOptions, ready.notes)
        } catch (e: Throwable) {
            ready.delegate?.let { d -> runCatching { d.close() } }
            throw e
        }
    }
}

private class TfliteEngine(private val interpreter: Interpreter, private val setup: Setup.Ready, override val initNanos: Long) : InferenceEngine {
    override val input = spec(interpreter.getInputTensor(0))
    override val output = spec(interpreter.getOutputTensor(0))

    override fun run(input: ByteBuffer, output: ByteBuffer) {
        input.rewind(); output.rewind()
        interpreter.run(input, output)
    }

    override val lastNativeInferenceNanos: Long? get() = interpreter.lastNativeInferenceDurationNanoseconds

    /** The delegate after the interpreter: the interpreter still references the delegate's kernels. */
    override fun close() {
        try {
            interpreter.close()
        } finally {
            setup.delegate?.let { d -> runCatching { d.close() } }
        }
    }

    private fun spec(t: Tensor): TensorSpec {
        val q = t.quantizationParams()
        return TensorSpec(t.shape().toList(), t.dataType().name.lowercase(), t.numBytes(), q.scale, q.zeroPoint)
    }
}
