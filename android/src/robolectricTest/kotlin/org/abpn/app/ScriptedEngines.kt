package org.abpn.app

import android.app.ApplicationExitInfo
import android.content.Context
import android.os.Binder
import android.os.Process
import org.abpn.core.Accelerator
import org.robolectric.shadow.api.Shadow
import org.robolectric.shadows.ShadowActivityManager
import org.robolectric.shadows.ShadowBinder
import org.robolectric.shadows.ShadowProcess
import java.nio.ByteBuffer
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit

/**
 * The benchmark's stand-in for TFLite (whose JNI library cannot load here) behind [Engines.factory],
 * for tiny3ops.tflite's float32 1x4x4x3 -> 1x4x4x3 tensors: each engine doubles its input. Per
 * accelerator it is ready (all 3 nodes delegated, or 2 of 3 with the rest on XNNPACK), unavailable,
 * throws, or "crashes" while the delegate is created: it does what a dying accelerator process does
 * to the main process (ActivityManager records a native crash with signal 11, and the binder's
 * death notices fire) and never answers, or hangs in the delegate's creation the way a stuck NNAPI
 * driver or FastRPC call does (the call never returns; only killing the process ends it). Like
 * TFLite, it says what a delegate took only in its log; with [mutedLog] that log stays empty, as on
 * OEM builds that drop app logs (some ColorOS, Funtouch and Huawei-derived builds) or after logd
 * pruned it.
 */
class ScriptedEngines(
    private val script: Map<Accelerator, Behaviour>,
    private val mutedLog: Boolean = false,
    private val serviceBinder: () -> Binder,
) : EngineFactory {
    enum class Behaviour { OK, PARTIAL, UNAVAILABLE, THROWS, CRASHES, HANGS }

    val created = CopyOnWriteArrayList<Accelerator>()
    val log = PhoneLog(capacity = 64)

    /** What each creation was asked: threads and the GPU settings. */
    val asked = CopyOnWriteArrayList<Pair<Int, GpuSettings>>()

    /** Closed, it holds every run() until opened: a run that is certainly in progress. */
    @Volatile var gate = CountDownLatch(0)

    override val runtimeName = "test-doubling"
    override fun runtimeVersion() = "1"

    override fun runtimeLog() = if (mutedLog) emptyList() else log.linesOf(Process.myPid())

    override fun writeLogMarker(marker: String) = log.add(Process.myPid(), "ABPN", marker)

    override fun create(context: Context, model: ByteBuffer, accelerator: Accelerator, threads: Int, nnapiAccelerator: String?, gpu: GpuSettings): EngineCreation {
        asked.add(threads to gpu)
        return create(context, model, accelerator, threads, nnapiAccelerator)
    }

    override fun create(context: Context, model: ByteBuffer, accelerator: Accelerator, threads: Int, nnapiAccelerator: String?): EngineCreation {
        created.add(accelerator)
        val options = mapOf<String, Any?>("threads" to threads)
        return when (val behaviour = script[accelerator] ?: Behaviour.UNAVAILABLE) {
            Behaviour.OK, Behaviour.PARTIAL -> {
                logDelegation(accelerator, if (behaviour == Behaviour.OK) 3 else 2)
                // While it runs, the rest of the phone keeps logging: the lines above rotate out.
                EngineCreation.Ready(DoublingEngine { gate.await(30, TimeUnit.SECONDS); log.add(SYSTEM_PID, "ActivityManager", "Start proc for service com.example.sync") }, options, null)
            }
            Behaviour.UNAVAILABLE -> EngineCreation.Unavailable("no ${accelerator.id} on this test phone", options, null)
            Behaviour.THROWS -> throw IllegalArgumentException("Internal error: Failed to apply delegate: test")
            Behaviour.CRASHES -> crash(context)
            Behaviour.HANGS -> hang()
        }
    }

    /**
     * Never returns until this "process" is killed. On a phone the accelerator process has a pid of
     * its own; this JVM has one pid, so from here on the rest of the test (the main process) sees
     * [MAIN_PID] while the service said it was [ACCELERATOR_PID].
     */
    private fun hang(): Nothing {
        val mine = Process.myPid()
        ShadowProcess.setPid(MAIN_PID)
        val until = System.currentTimeMillis() + 60_000
        while (!ShadowProcess.wasKilled(mine) && System.currentTimeMillis() < until) Thread.sleep(10)
        throw IllegalStateException("killed")
    }

    /**
     * TFLite's lines for [accelerator] taking [nodes] of tiny3ops' 3 (subgraph.cc's "Replacing" line;
     * the GPU delegate's "Initialized OpenCL-based API."), then XNNPACK's for what is left.
     */
    private fun logDelegation(accelerator: Accelerator, nodes: Int) {
        val me = Process.myPid()
        if (accelerator != Accelerator.CPU) {
            if (accelerator == Accelerator.GPU) log.add(me, "tflite", "Initialized OpenCL-based API.")
            val name = when (accelerator) {
                Accelerator.GPU -> "TfLiteGpuDelegateV2"
                Accelerator.NNAPI -> "TfLiteNnapiDelegate"
                else -> "QnnDelegate"
            }
            log.add(me, "tflite", "Replacing $nodes out of 3 node(s) with delegate ($name) node, yielding ${if (nodes == 3) 1 else 2} partitions for the whole graph.")
            if (nodes == 3) return
        }
        val left = if (accelerator == Accelerator.CPU) 3 else 3 - nodes
        log.add(me, "tflite", "Created TensorFlow Lite XNNPACK delegate for CPU.")
        log.add(me, "tflite", "Replacing $left out of ${if (accelerator == Accelerator.CPU) 3 else left + 1} node(s) with delegate (TfLiteXNNPackDelegate) node, yielding 1 partitions for the whole graph.")
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
        const val SYSTEM_PID = 1000
        const val ACCELERATOR_PID = 4_194_001
        const val MAIN_PID = 4_194_002

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

/**
 * Android's main log buffer as `logcat -d -v epoch --pid=N` shows it: one ring for the whole phone,
 * so a process's old lines rotate out as any process logs (logd's default is 256 KB; here
 * [capacity] lines).
 */
class PhoneLog(private val capacity: Int) {
    private val entries = ArrayDeque<Pair<Int, String>>()

    @Synchronized fun add(pid: Int, tag: String, message: String) {
        val now = System.currentTimeMillis()
        entries.addLast(pid to String.format("%d.%03d %5d %5d I %-8s: %s", now / 1000, now % 1000, pid, pid, tag, message))
        while (entries.size > capacity) entries.removeFirst()
    }

    @Synchronized fun linesOf(pid: Int): List<String> = entries.filter { it.first == pid }.map { it.second }
}
