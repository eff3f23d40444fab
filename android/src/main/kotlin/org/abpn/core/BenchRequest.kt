package org.abpn.core

/** Raised for intent extras that break docs/phone-protocol.md (v3); the message says what to fix. */
class BadRequestException(message: String) : Exception(message)

/** A benchmark run as requested by the host over `am start` extras. */
data class BenchRequest(
    val modelPath: String,
    val accelerators: List<Accelerator>,
    val threads: Int,
    val warmup: Int,
    val runs: Int,
    val runId: String,
    val inputPath: String,
    val expectedPath: String?,
    val cooldownS: Int,
    val collectorUrl: String?,
    val collectorToken: String?,
    val warmupMinMs: Int = 500,
    val runMinMs: Int = 1000,
    val requireFullDelegation: Boolean = false,
    val nnapiAccelerator: String? = null,
    val cooldownMaxS: Int = 60,
    /** How long the main process waits for one accelerator's process before it kills it (PROTOCOL v3 §3). */
    val acceleratorTimeoutS: Int = 120,
    /** benchmark_model's gpu_inference_for_sustained_speed (default false: FAST_SINGLE_ANSWER). */
    val gpuSustainedSpeed: Boolean = false,
    /** Consult TFLite's GPU CompatibilityList first, which benchmark_model never does (default false). */
    val gpuCompatibilityList: Boolean = false,
) : java.io.Serializable {
    companion object {
        /** Interpreter.Options.setNumThreads(-1): the runtime picks (benchmark_model's default num_threads). */
        const val THREADS_RUNTIME_CHOOSES = -1

        private val UUID_RE = Regex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
        private val SAFE_NAME_RE = Regex("^[A-Za-z0-9._-]{1,100}$")

        /**
         * Parses the extras of an intent, given as a map (an Android Bundle's keys and values).
         * `--ei` values arrive as Int; digits passed with `--es` are accepted too.
         */
        fun parse(extras: Map<String, Any?>): BenchRequest {
            val runId = requiredString(extras, "run_id")
            if (!UUID_RE.matches(runId)) throw BadRequestException("run_id '$runId' is not a UUID (pass --es run_id <uuid>)")
            val model = requiredPath(extras, "model")
            val input = requiredPath(extras, "input")
            val expected = optionalString(extras, "expected")?.also { checkAbsolute("expected", it) }
            val accelerators = parseAccelerators(optionalString(extras, "accelerators") ?: "cpu")
            // benchmark_model's num_threads default is -1: the runtime chooses (benchmark_tflite_model.cc).
            val threads = int(extras, "threads", THREADS_RUNTIME_CHOOSES, -1..64)
            if (threads == 0) throw BadRequestException("extra 'threads' = 0: pass -1 (TFLite chooses, benchmark_model's default) or 1..64")
            val warmup = int(extras, "warmup", 3, 0..1000)
            val runs = int(extras, "runs", 20, 1..10000)
            val cooldown = int(extras, "cooldown_s", 0, 0..3600)
            val url = optionalString(extras, "collector_url")?.trimEnd('/')
            if (url != null && !(url.startsWith("http://") || url.startsWith("https://"))) {
                throw BadRequestException("collector_url '$url' must start with http:// or https://")
            }
            val token = optionalString(extras, "collector_token")
            // Defaults of benchmark_model's warmup_min_secs (0.5) and min_secs (1.0):
            // tensorflow/lite/tools/benchmark/benchmark_model.cc, DefaultParams().
            val warmupMinMs = int(extras, "warmup_min_ms", 500, 0..600_000)
            val runMinMs = int(extras, "run_min_ms", 1000, 0..600_000)
            val requireFull = bool(extras, "require_full_delegation", false)
            val nnapiAccelerator = optionalString(extras, "nnapi_accelerator")
            if (nnapiAccelerator != null && !SAFE_NAME_RE.matches(nnapiAccelerator)) {
                throw BadRequestException("nnapi_accelerator '$nnapiAccelerator' is not a device name such as qti-htp")
            }
            val cooldownMax = int(extras, "cooldown_max_s", 60, 0..3600)
            val timeout = int(extras, "accelerator_timeout_s", 120, 1..3600)
            return BenchRequest(
                model, accelerators, threads, warmup, runs, runId, input, expected, cooldown, url, token,
                warmupMinMs, runMinMs, requireFull, nnapiAccelerator, cooldownMax, timeout,
                bool(extras, "gpu_inference_for_sustained_speed", false), bool(extras, "gpu_compatibility_list", false),
            )
        }

        /**
         * The name to use for the error file when the request is bad: the run_id the host sent when it
         * is safe as a file name (so the host finds `<run_id>.error.json`), else a fixed name.
         */
        fun errorFileStem(extras: Map<String, Any?>): String {
            val raw = extras["run_id"] as? String
            return if (raw != null && ResultsPath.RUN_ID.matches(raw)) raw else "invalid-run-id"
        }

        fun parseAccelerators(csv: String): List<Accelerator> {
            val names = csv.split(',').map { it.trim() }.filter { it.isNotEmpty() }
            if (names.isEmpty()) throw BadRequestException("accelerators is empty; use a comma-separated list from ${Accelerator.ids}")
            val result = ArrayList<Accelerator>()
            for (n in names) {
                val a = Accelerator.fromId(n)
                    ?: throw BadRequestException("unknown accelerator '$n'; choose from ${Accelerator.ids.joinToString(",")}")
                if (a in result) throw BadRequestException("accelerator '$n' is listed twice")
                result.add(a)
            }
            return result
        }

        private fun optionalString(extras: Map<String, Any?>, key: String): String? {
            val v = extras[key] ?: return null
            if (v !is String) throw BadRequestException("extra '$key' must be a string (--es), got ${v::class.java.simpleName}")
            return v.ifEmpty { null }
        }

        private fun requiredString(extras: Map<String, Any?>, key: String): String =
            optionalString(extras, key) ?: throw BadRequestException("missing extra '$key' (pass --es $key ...)")

        private fun requiredPath(extras: Map<String, Any?>, key: String): String =
            requiredString(extras, key).also { checkAbsolute(key, it) }

        private fun checkAbsolute(key: String, path: String) {
            if (!path.startsWith("/")) throw BadRequestException("extra '$key' must be an absolute path on the phone, got '$path'")
        }

        /** `--ez` gives a Boolean; "true"/"false" passed with `--es` are accepted too. */
        private fun bool(extras: Map<String, Any?>, key: String, default: Boolean): Boolean = when (val raw = extras[key]) {
            null -> default
            is Boolean -> raw
            "true" -> true
            "false" -> false
            else -> throw BadRequestException("extra '$key' must be a boolean (--ez $key true|false), got '$raw'")
        }

        private fun int(extras: Map<String, Any?>, key: String, default: Int, range: IntRange): Int {
            val v = when (val raw = extras[key]) {
                null -> return default
                is Int -> raw
                is Long -> if (raw in Int.MIN_VALUE..Int.MAX_VALUE) raw.toInt() else null
                is String -> raw.trim().toIntOrNull()
                else -> null
            } ?: throw BadRequestException("extra '$key' must be an integer (--ei $key N), got '${extras[key]}'")
            if (v !in range) throw BadRequestException("extra '$key' = $v is out of range ${range.first}..${range.last}")
            return v
        }
    }
}
