package org.abpn.app

import android.content.Context
import org.abpn.core.Accelerator
import java.nio.ByteBuffer
import java.util.concurrent.CopyOnWriteArrayList

/**
 * The one double of the Robolectric tests, standing in for TFLite (whose JNI library cannot load on a
 * desktop JVM) behind [Engines.factory]. It computes a known x3 function on the real buffers, with
 * the model's tensor shapes: each LR pixel becomes the mean of itself and the four pixels [REACH]
 * away (left, right, up, down; coordinates clamped to the tile, as "same" padding stops at its edge),
 * repeated 3x3. REACH equals ABPN's receptive radius, so a tiling that keeps any pixel closer than 7
 * LR pixels to an inner tile edge gives different pixels than [reference] on the whole image.
 * With [int8] it has the int8 I/O of the app's bundled model: zero point -128, so it computes on
 * each byte as pixel - 128 and answers in the same form, as that model's int8 tensors do.
 */
class CrossNearestEngine(val accelerator: Accelerator, private val beforeRun: (Int) -> Unit, private val int8: Boolean = false) : InferenceEngine {
    private val dtype = if (int8) "int8" else "uint8"
    private val zeroPoint = if (int8) -128 else 0
    override val input = TensorSpec(listOf(1, H, W, 3), dtype, H * W * 3, 1f, zeroPoint)
    override val output = TensorSpec(listOf(1, H * 3, W * 3, 3), dtype, H * W * 27, 1f, zeroPoint)
    override val initNanos = 1_000_000L
    override var lastNativeInferenceNanos: Long? = null
        private set

    /** A copy of every input tile, in the order the app ran them. */
    val inputs = CopyOnWriteArrayList<ByteArray>()
    @Volatile var closed = false
        private set

    override fun run(input: ByteBuffer, output: ByteBuffer) {
        check(!closed) { "run after close" }
        // The real interpreter reads native memory: a heap buffer or a short one would fail on a phone.
        require(input.isDirect && output.isDirect) { "TFLite needs direct buffers" }
        require(input.capacity() == this.input.bytes && output.capacity() == this.output.bytes) {
            "buffers of ${input.capacity()} and ${output.capacity()} bytes for tensors of ${this.input.bytes} and ${this.output.bytes}"
        }
        beforeRun(inputs.size)
        val start = System.nanoTime()
        val tile = ByteArray(this.input.bytes)
        for (i in tile.indices) tile[i] = input.get(i)
        inputs.add(tile)
        // the int8 tensor's real value is byte + 128: the pixel; the answer goes back as pixel - 128
        val offset = -zeroPoint
        val lr = cross(ByteArray(tile.size) { (tile[it] + offset).toByte() }, W, H)
        for (i in lr.indices) lr[i] = (lr[i] - offset).toByte()
        for (y in 0 until H * 3) {
            for (x in 0 until W * 3) {
                val src = ((y / 3) * W + x / 3) * 3
                val dst = (y * W * 3 + x) * 3
                output.put(dst, lr[src]); output.put(dst + 1, lr[src + 1]); output.put(dst + 2, lr[src + 2])
            }
        }
        lastNativeInferenceNanos = System.nanoTime() - start
    }

    override fun close() {
        closed = true
    }

    companion object {
        const val W = 640
        const val H = 360
        const val REACH = 7

        /** The per-pixel function on packed RGB bytes of a w x h image, edges clamped. */
        fun cross(rgb: ByteArray, w: Int, h: Int): ByteArray {
            val out = ByteArray(rgb.size)
            for (y in 0 until h) {
                for (x in 0 until w) {
                    for (c in 0 until 3) {
                        fun p(px: Int, py: Int) = rgb[(py.coerceIn(0, h - 1) * w + px.coerceIn(0, w - 1)) * 3 + c].toInt() and 0xFF
                        val sum = p(x, y) + p(x - REACH, y) + p(x + REACH, y) + p(x, y - REACH) + p(x, y + REACH)
                        out[(y * w + x) * 3 + c] = (sum / 5).toByte()
                    }
                }
            }
            return out
        }

        /** What the app must produce for a whole ARGB image: [cross] on it, each pixel repeated 3x3, opaque. */
        fun reference(argb: IntArray, w: Int, h: Int): IntArray {
            val rgb = ByteArray(w * h * 3)
            for (i in argb.indices) {
                rgb[i * 3] = (argb[i] shr 16).toByte(); rgb[i * 3 + 1] = (argb[i] shr 8).toByte(); rgb[i * 3 + 2] = argb[i].toByte()
            }
            val lr = cross(rgb, w, h)
            val out = IntArray(w * 3 * h * 3)
            for (y in 0 until h * 3) {
                for (x in 0 until w * 3) {
                    val s = ((y / 3) * w + x / 3) * 3
                    out[y * w * 3 + x] = (0xFF shl 24) or ((lr[s].toInt() and 0xFF) shl 16) or
                        ((lr[s + 1].toInt() and 0xFF) shl 8) or (lr[s + 2].toInt() and 0xFF)
                }
            }
            return out
        }
    }
}

/** Hands out [CrossNearestEngine]s and remembers them; [unavailable] accelerators report why. */
class CrossNearestEngines(
    private val unavailable: Map<Accelerator, String> = emptyMap(),
    private val beforeRun: (Int) -> Unit = {},
    private val int8: Boolean = false,
) : EngineFactory {
    val created = CopyOnWriteArrayList<CrossNearestEngine>()
    override val runtimeName = "test-cross-nearest"
    override fun runtimeVersion() = "1"

    /** The demo reads no log. */
    override fun runtimeLog() = emptyList<String>()

    override fun create(context: Context, model: ByteBuffer, accelerator: Accelerator, threads: Int, nnapiAccelerator: String?): EngineCreation {
        require(model.capacity() > 0) { "empty model buffer" }
        val options = mapOf<String, Any?>("threads" to threads)
        unavailable[accelerator]?.let { return EngineCreation.Unavailable(it, options, null) }
        return EngineCreation.Ready(CrossNearestEngine(accelerator, beforeRun, int8).also { created.add(it) }, options, null)
    }
}
