package org.abpn.app

import android.content.Context
import android.util.Log
import org.abpn.core.AcceleratorResult
import org.abpn.core.Accelerator
import org.abpn.core.BenchRequest
import org.abpn.core.MemoryInfo
import org.abpn.core.ProcFiles
import org.abpn.core.ProcessInfo
import org.abpn.core.DelegationLog
import org.abpn.core.DelegationVerdict
import org.abpn.core.Inference
import org.abpn.core.OutputCheck
import org.abpn.core.PixelDecoding
import org.abpn.core.Status
import org.abpn.core.TimedLoop
import org.abpn.core.Timing
import java.io.File
import java.nio.ByteBuffer
import java.nio.ByteOrder

/**
 * One accelerator's measurement, run inside the accelerator process ([AcceleratorService]) so a
 * native crash costs only this row. Timing follows benchmark_model: init = delegate creation +
 * interpreter creation and allocation (the delegate's graph compilation, e.g. GPU kernels, counted
 * in it as in benchmark_model's Init); the headline samples are the runtime's invoke time. The
 * process's memory (/proc/self/status) and scheduling group (/proc/self/cgroup, read between the
 * first and second timed run) go with the row.
 */
class AcceleratorMeasurement(private val context: Context, private val job: AcceleratorJob) {
    private val acc: Accelerator get() = job.accelerator
    private val request get() = job.request

    fun run(): AcceleratorResult {
        val options = LinkedHashMap<String, Any?>()
        var notes: String? = null
        try {
            val model = ModelFile.map(File(request.modelPath))
            val input = File(request.inputPath).readBytes()
            val expected = request.expectedPath?.let { File(it).readBytes() }

            val logSince = System.currentTimeMillis() - 5
            val factory = Engines.factory
            val marker = "abpn log marker ${acc.id} ${System.nanoTime()}"
            factory.writeLogMarker(marker)
            val rssBefore = DeviceProbe.procSelf("status").getOrNull()?.let { ProcFiles.statusBytes(it, "VmRSS") }
            val start = System.nanoTime()
            val created = factory.create(context, model, acc, request.threads, request.nnapiAccelerator, GpuSettings(request.gpuSustainedSpeed, request.gpuCompatibilityList))
            val createNs = System.nanoTime() - start
            options.putAll(created.recordOptions)
            options["require_full_delegation"] = request.requireFullDelegation
            if (job.debuggable) options["debuggable_build"] = true
            notes = listOfNotNull(
                created.notes,
                if (job.debuggable) "debuggable build: timings are distorted" else null,
                job.pageNote,
                threadsNote(),
                if (acc != Accelerator.CPU) INIT_SPLIT_NOTE else null,
            ).joinToString("; ").ifEmpty { null }
            if (created is EngineCreation.Unavailable) return AcceleratorResult.unsupported(acc, options, created.reason, notes)
            (created as EngineCreation.Ready).engine.use { engine ->
                // Read right away: after minutes of timed runs the line may have rotated out of the log.
                val lines = factory.runtimeLog()
                val logReadable = lines.any { marker in it }
                val delegation = DelegationLog.summarize(acc, DelegationLog.parse(lines, logSince), job.totalNodes, logReadable)
                if (!logReadable && request.requireFullDelegation && acc != Accelerator.CPU) {
                    notes = listOfNotNull(notes, "require_full_delegation was not checked: the app could not read its own log back (delegation.log_readable false)").joinToString("; ")
                }
                if (acc == Accelerator.GPU) options["gpu_backend"] = DelegationLog.gpuBackend(lines)
                val (status, reason) = DelegationVerdict.judge(acc, delegation, request.requireFullDelegation)
                if (status == Status.FAILED) {
                    return AcceleratorResult(acc, options, Status.FAILED, reason = reason, notes = notes, delegation = delegation)
                }
                val timed = time(engine, input, createNs)
                val memory = MemoryInfo(
                    rssBefore, DeviceProbe.procSelf("status").getOrNull()?.let { ProcFiles.statusBytes(it, "VmHWM") }, ProcFiles.STATUS,
                )
                val check = expected?.let { ref ->
                    val out = ByteArray(engine.output.bytes)
                    timed.output.rewind(); timed.output.get(out)
                    OutputCheck.compare(out, ref, PixelDecoding(engine.output.dtype, engine.output.scale, engine.output.zeroPoint))
                }
                val timingNote = if (timed.nativeMissing) "the runtime gave no native invoke time: samples_ms are wall times" else null
                return AcceleratorResult(
                    acc, options, status, reason = reason,
                    notes = listOfNotNull(notes, timingNote).joinToString("; ").ifEmpty { null },
                    timing = timed.timing, delegation = delegation, outputCheck = check,
                    memory = memory, process = timed.process,
                )
            }
        } catch (e: Throwable) {
            // Delegate errors surface as IllegalArgumentException/RuntimeException, missing
            // libraries as UnsatisfiedLinkError: all are this accelerator's failure, not the run's.
            Log.w(ResultFiles.TAG, "${acc.id} failed", e)
            return AcceleratorResult.failed(acc, options, e, notes)
        }
    }

    private class Timed(val timing: Timing, val output: ByteBuffer, val nativeMissing: Boolean, val process: ProcessInfo)

    private fun threadsNote(): String? = if (request.threads != BenchRequest.THREADS_RUNTIME_CHOOSES) null else
        "threads -1 (benchmark_model's default): the runtime chooses; XNNPACK then makes no thread pool (xnnpack_delegate.cc: only num_threads > 1 does), so one thread"

    /** Where this process runs (/proc/self/cgroup), read while the timed runs go on. */
    private fun schedulingGroup(): ProcessInfo {
        val pid = android.os.Process.myPid()
        val cgroup = DeviceProbe.procSelf("cgroup")
        return cgroup.fold(
            { text -> ProcessInfo(text.trim(), ProcFiles.cpuset(text, DeviceProbe.procSelf("cpuset").getOrNull()), null, null, pid) },
            { e -> ProcessInfo(null, null, "cannot read /proc/self/cgroup: $e", null, pid) },
        )
    }

    private fun time(engine: InferenceEngine, input: ByteArray, createNs: Long): Timed {
        require(input.size == engine.input.bytes) { "the input file has ${input.size} bytes, the model's input tensor needs ${engine.input.bytes}" }
        val inBuf = ByteBuffer.allocateDirect(input.size).order(ByteOrder.nativeOrder())
        inBuf.put(input)
        val outBuf = ByteBuffer.allocateDirect(engine.output.bytes).order(ByteOrder.nativeOrder())
        fun once(): Inference {
            val s = System.nanoTime()
            engine.run(inBuf, outBuf)
            val wallMs = (System.nanoTime() - s) / 1e6
            return Inference(engine.lastNativeInferenceNanos?.takeIf { it >= 0 }?.let { it / 1e6 }, wallMs)
        }
        val first = once()
        val warm = TimedLoop.repeat(request.warmup, request.warmupMinMs.toLong(), System::nanoTime, once = ::once)
        var process: ProcessInfo? = null
        val timedFrom = System.currentTimeMillis()
        val timed = TimedLoop.repeat(request.runs, request.runMinMs.toLong(), System::nanoTime) {
            // Between two timed runs, outside both samples.
            once().also { if (process == null) process = schedulingGroup() }
        }
        val timedTo = System.currentTimeMillis()
        val nativeMissing = timed.inferences.any { it.nativeMs == null }
        val samples = timed.inferences.map { if (nativeMissing) it.wallMs else it.nativeMs!! }
        val interpreterMs = engine.initNanos / 1e6
        val timing = Timing(
            // The factory's call covers the delegate's creation and then the interpreter's; the engine
            // times the latter. The CPU has no delegate: the interpreter applies XNNPACK itself.
            delegateCreateMs = if (acc == Accelerator.CPU) 0.0 else Math.max(0.0, createNs / 1e6 - interpreterMs),
            interpreterCreateMs = interpreterMs,
            // The schema's first_inference_ms is the wall time of the first run() after init.
            firstInferenceMs = first.wallMs,
            warmupRuns = warm.inferences.size,
            warmupMs = warm.elapsedMs,
            samplesMs = samples,
            wallSamplesMs = timed.inferences.map { it.wallMs },
            warmupMinMs = request.warmupMinMs,
            runMinMs = request.runMinMs,
        )
        return Timed(timing, outBuf, nativeMissing, process!!.copy(timedFromMs = timedFrom, timedToMs = timedTo))
    }

    private companion object {
        /** What differs from benchmark_model's breakdown, not its total (init_ms is the same sum). */
        const val INIT_SPLIT_NOTE = "init_ms counts the delegate's graph compilation (GPU kernels, NNAPI/QNN graphs) as benchmark_model's " +
            "init does; it falls in interpreter_create_ms, not delegate_create_ms, because TFLite's Java Interpreter applies " +
            "delegates in its constructor (delegate_create_ms is the delegate object alone)"
    }
}
