package org.abpn.app

import android.content.Context
import android.content.pm.ApplicationInfo
import android.util.Log
import org.abpn.core.Accelerator
import org.abpn.core.AcceleratorResult
import org.abpn.core.AppInfo
import org.abpn.core.BenchRequest
import org.abpn.core.Conditions
import org.abpn.core.DelegationLog
import org.abpn.core.LatencyStats
import org.abpn.core.ModelInfo
import org.abpn.core.OutputCheck
import org.abpn.core.PixelDecoding
import org.abpn.core.ResultRecord
import org.abpn.core.Status
import org.abpn.core.TfliteModelFile
import org.abpn.core.Timing
import org.tensorflow.lite.Interpreter
import org.tensorflow.lite.TensorFlowLite
import java.io.File
import java.io.FileInputStream
import java.io.IOException
import java.nio.ByteBuffer
import java.nio.ByteOrder

/** Raised when the run cannot start at all; becomes the `<run_id>.error.json` file. */
class RunCannotStart(message: String) : Exception(message)

/** One benchmark run of docs/phone-protocol.md: every requested accelerator, each in its own interpreter. */
class BenchmarkRunner(private val context: Context, private val request: BenchRequest, private val status: (String) -> Unit) {
    private val debuggable = (context.applicationInfo.flags and ApplicationInfo.FLAG_DEBUGGABLE) != 0

    fun run(): ResultRecord {
        val modelFile = File(request.modelPath)
        if (!modelFile.canRead()) throw RunCannotStart("cannot read the model ${request.modelPath} (push it with mode 0644)")
        val model = ModelFile.map(modelFile)
        val totalNodes = runCatching { TfliteModelFile.mainSubgraphOperatorCount(model) }.getOrNull()
        val modelInfo = probeModel(modelFile, model)
        val input = readExact(request.inputPath, "input", modelInfo.inputBytes)
        val expected = request.expectedPath?.let { readExact(it, "expected", modelInfo.outputBytes) }

        val tempBefore = DeviceProbe.batteryTemperatureC(context)
        val results = ArrayList<AcceleratorResult>()
        var cpuMedian: Double? = null
        for ((i, acc) in request.accelerators.withIndex()) {
            if (i > 0 && request.cooldownS > 0) {
                status("cooling down ${request.cooldownS} s before ${acc.id}")
                Thread.sleep(request.cooldownS * 1000L)
            }
            status("measuring ${acc.id} (${i + 1}/${request.accelerators.size})")
            val r = measure(acc, model, input, expected, modelInfo, totalNodes, cpuMedian)
            if (acc == Accelerator.CPU && r.status == Status.OK) cpuMedian = LatencyStats.of(r.timing!!.samplesMs).median
            Log.i(ResultFiles.TAG, "${acc.id}: ${r.status.id} ${r.reason ?: ""}")
            results.add(r)
        }
        val tempAfter = DeviceProbe.batteryTemperatureC(context)
        return ResultRecord(
            request.runId, System.currentTimeMillis(), DeviceProbe.deviceInfo(), modelInfo.info, appInfo(), results,
            Conditions(tempBefore, tempAfter, if (tempBefore != null || tempAfter != null) "battery" else null, request.cooldownS.toDouble()),
        )
    }

    private class ProbedModel(val info: ModelInfo, val inputBytes: Int, val outputBytes: Int, val outputDecoding: PixelDecoding)

    /** Shapes and types from a plain CPU interpreter: proves the model loads before any accelerator runs. */
    private fun probeModel(file: File, model: ByteBuffer): ProbedModel {
        val interpreter = try {
            Interpreter(model, Interpreter.Options().setNumThreads(1))
        } catch (e: Exception) {
            throw RunCannotStart("TFLite cannot load ${file.path}: ${e.message}")
        }
        interpreter.use {
            if (it.inputTensorCount != 1 || it.outputTensorCount != 1) {
                throw RunCannotStart("the benchmark expects one input and one output tensor, the model has ${it.inputTensorCount} and ${it.outputTensorCount}")
            }
            val inT = it.getInputTensor(0)
            val outT = it.getOutputTensor(0)
            val info = ModelInfo(
                file.name, ModelFile.sha256(FileInputStream(file)), file.length(),
                inT.shape().toList(), ModelFile.dtypeName(inT.dataType()), outT.shape().toList(), ModelFile.dtypeName(outT.dataType()),
            )
            val q = outT.quantizationParams()
            return ProbedModel(info, inT.numBytes(), outT.numBytes(), PixelDecoding(info.outputDtype, q.scale, q.zeroPoint))
        }
    }

    private fun readExact(path: String, what: String, size: Int): ByteArray {
        val f = File(path)
        if (!f.canRead()) throw RunCannotStart("cannot read the $what file $path (push it with mode 0644)")
        if (f.length() != size.toLong()) throw RunCannotStart("the $what file $path has ${f.length()} bytes, the model's tensor needs $size")
        return try { f.readBytes() } catch (e: IOException) { throw RunCannotStart("cannot read $path: ${e.message}") }
    }

    private fun appInfo(): AppInfo {
        val version = context.packageManager.getPackageInfo(context.packageName, 0).versionName ?: "unknown"
        val runtime = runCatching { TensorFlowLite.runtimeVersion() }.getOrDefault("unknown")
        return AppInfo(version, "tflite", runtime)
    }

    private fun measure(
        acc: Accelerator, model: ByteBuffer, input: ByteArray, expected: ByteArray?, probed: ProbedModel,
        totalNodes: Int?, cpuMedian: Double?,
    ): AcceleratorResult {
        var setup: Setup? = null
        var options: Map<String, Any?> = emptyMap()
        try {
            setup = AcceleratorSetup.prepare(context, acc, request.threads)
            options = LinkedHashMap(setup.recordOptions).apply { if (debuggable) put("debuggable_build", true) }
            val notes = listOfNotNull(setup.notes, if (debuggable) "debuggable build: timings are distorted" else null)
                .joinToString("; ").ifEmpty { null }
            if (setup is Setup.Unsupported) return AcceleratorResult.unsupported(acc, options, setup.reason, notes)
            val ready = setup as Setup.Ready
            val logSince = System.currentTimeMillis() - 5

            val t = System.nanoTime()
            val interpreter = Interpreter(model, ready.options)
            interpreter.use {
                it.allocateTensors()
                val initMs = msSince(t)
                val inBuf = ByteBuffer.allocateDirect(input.size).order(ByteOrder.nativeOrder())
                inBuf.put(input)
                val outBuf = ByteBuffer.allocateDirect(probed.outputBytes).order(ByteOrder.nativeOrder())
                fun once(): Double {
                    inBuf.rewind(); outBuf.rewind()
                    val s = System.nanoTime()
                    it.run(inBuf, outBuf)
                    return msSince(s)
                }
                val firstMs = once()
                repeat(request.warmup) { once() }
                val samples = List(request.runs) { once() }
                val check = expected?.let { ref ->
                    val out = ByteArray(probed.outputBytes)
                    outBuf.rewind(); outBuf.get(out)
                    OutputCheck.compare(out, ref, probed.outputDecoding)
                }
                val delegation = DelegationLog.summarize(
                    acc, DelegationLog.parse(DeviceProbe.ownLogLines(), logSince), totalNodes,
                    LatencyStats.of(samples).median, cpuMedian,
                )
                return AcceleratorResult(
                    acc, options, Status.OK, notes = notes,
                    timing = Timing(initMs, firstMs, request.warmup, samples),
                    delegation = delegation, outputCheck = check,
                )
            }
        } catch (e: Throwable) {
            // Native delegate errors surface as IllegalArgumentException/RuntimeException, missing
            // libraries as UnsatisfiedLinkError: all are this accelerator's failure, not the run's.
            Log.w(ResultFiles.TAG, "${acc.id} failed", e)
            return AcceleratorResult.failed(acc, options, e, setup?.notes)
        } finally {
            (setup as? Setup.Ready)?.delegate?.let { d -> runCatching { d.close() } }
        }
    }

    private fun msSince(startNs: Long) = (System.nanoTime() - startNs) / 1e6
}
