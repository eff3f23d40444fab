package org.abpn.app

import android.app.ApplicationExitInfo
import android.content.Context
import android.os.Binder
import android.os.Process
import org.abpn.core.Accelerator
import org.robolectric.shadow.api.Shadow
import org.robolectric.shadows.ShadowActivityManager
import org.robolectric.shadows.ShadowBinder
import java.nio.ByteBuffer
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit

/**
 * The benchmark's stand-in for TFLite (whose JNI library cannot load here) behind [Engines.factory],
 * for tiny3ops.tflite's float32 1x4x4x3 -> 1x4x4x3 tensors: each engine doubles its input. Per
 * accelerator it is ready, unavailable, throws, or "crashes" while the delegate is created: it
 * does what a dying accelerator process does to the main process (ActivityManager records a native
 * crash with signal 11, and the binder's death notices fire) and never answers.
 */
class ScriptedEngines(
    private val script: Map<Accelerator, Behaviour>,
    private val serviceBinder: () -> Binder,
) : EngineFactory {
    enum class Behaviour { OK, UNAVAILABLE, THROWS, CRASHES }

    val created = CopyOnWriteArrayList<Accelerator>()

    /** Closed, it holds every run() until opened: a run that is certainly in progress. */
    @Volatile var gate = CountDownLatch(0)

    override val runtimeName = "test-doubling"
    override fun runtimeVersion() = "1"

    override fun create(context: Context, model: ByteBuffer, accelerator: Accelerator, threads: Int): EngineCreation {
        created.add(accelerator)
        val options = mapOf<String, Any?>("threads" to threads)
        return when (script[accelerator] ?: Behaviour.UNAVAILABLE) {
            Behaviour.OK -> EngineCreation.Ready(DoublingEngine { gate.await(30, TimeUnit.SECONDS) }, options, null)
            Behaviour.UNAVAILABLE -> EngineCreation.Unavailable("no ${accelerator.id} on this test phone", options, null)
            Behaviour.THROWS -> throw IllegalArgumentException("Internal error: Failed to apply delegate: test")
            Behaviour.CRASHES -> crash(context)
        }
    }

    private fun crash(context: Context): Nothing {
        val am = context.applicationContext.getSystemService(Context.ACTIVITY_SERVICE) as android.app.ActivityManager
        // This variant: an entry made with ApplicationExitInfoBuilder is not returned by the lookup here (4.16.1).
        @Suppress("DEPRECATION")
        Shadow.extract<ShadowActivityManager>(am).addApplicationExitInfo(
            "org.abpn.app:accelerator", Process.myPid(), ApplicationExitInfo.REASON_CRASH_NATIVE, 11,
        )
        for (r in Shadow.extract<ShadowBinder>(serviceBinder()).deathRecipients) r.binderDied()
        // A dead process says nothing more; here the exception only frees the service's thread.
        throw IllegalStateException("the process is dead")
    }

    companion object {
        const val BYTES = 4 * 4 * 3 * 4

        /** What [DoublingEngine] computes for [input]: the host's reference output. */
        fun expected(input: ByteArray): ByteArray {
            val inBuf = ByteBuffer.wrap(input).order(java.nio.ByteOrder.LITTLE_ENDIAN)
            val out = ByteBuffer.allocate(input.size).order(java.nio.ByteOrder.LITTLE_ENDIAN)
            for (i in 0 until input.size / 4) out.putFloat(4 * i, inBuf.getFloat(4 * i) * 2)
            return out.array()
        }
    }
}

private class DoublingEngine(private val beforeRun: () -> Unit) : InferenceEngine {
    override val input = TensorSpec(listOf(1, 4, 4, 3), "float32", ScriptedEngines.BYTES, 0f, 0)
    override val output = TensorSpec(listOf(1, 4, 4, 3), "float32", ScriptedEngines.BYTES, 0f, 0)
    override val initNanos = 2_000_000L
    override val delegatedNodes: Int? = null
    override var lastNativeInferenceNanos: Long? = null
        private set

    override fun run(input: ByteBuffer, output: ByteBuffer) {
        require(input.isDirect && output.isDirect) { "TFLite needs direct buffers" }
        beforeRun()
        val start = System.nanoTime()
        for (i in 0 until ScriptedEngines.BYTES / 4) output.putFloat(4 * i, input.getFloat(4 * i) * 2)
        Thread.sleep(2)
        lastNativeInferenceNanos = System.nanoTime() - start
    }

    override fun close() {}
}
