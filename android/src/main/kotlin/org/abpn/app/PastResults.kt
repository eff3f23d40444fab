package org.abpn.app

import android.content.Context
import org.abpn.core.Accelerator
import org.abpn.core.PastResult
import org.json.JSONObject
import java.io.File

/** Earlier benchmark records of the bundled model on this phone, for the demo's default. */
object PastResults {
    fun forModel(context: Context, sha256: String): List<PastResult> {
        val dir = runCatching { ResultFiles.resultsDir(context) }.getOrNull() ?: return emptyList()
        val files = dir.listFiles { f: File -> f.name.endsWith(".json") && !f.name.endsWith(".error.json") } ?: return emptyList()
        val newest = files.sortedByDescending { it.lastModified() }.firstOrNull { f ->
            runCatching { JSONObject(f.readText()).getJSONObject("model").getString("sha256") == sha256 }.getOrDefault(false)
        } ?: return emptyList()
        val results = JSONObject(newest.readText()).getJSONArray("results")
        return (0 until results.length()).mapNotNull { i ->
            val r = results.getJSONObject(i)
            val acc = Accelerator.fromId(r.optString("accelerator")) ?: return@mapNotNull null
            val check = r.optJSONObject("output_check")
            PastResult(
                acc, r.optString("status") == "ok",
                check?.optBoolean("passed"),
                r.optJSONObject("latency_ms")?.optDouble("median")?.takeIf { !it.isNaN() },
            )
        }
    }
}
