package org.abpn.core

import java.io.File
import java.io.FileOutputStream
import java.io.IOException
import java.net.HttpURLConnection
import java.net.URL

/** Getting a record to the host: an atomically written file, and optionally the collector. */
object ResultDelivery {
    /** Writes `<name>.tmp`, syncs it, then renames: the host polls for [name] and never sees half a file. */
    fun writeAtomically(dir: File, name: String, text: String): File {
        val tmp = File(dir, "$name.tmp")
        val target = File(dir, name)
        FileOutputStream(tmp).use { out ->
            out.write(text.toByteArray(Charsets.UTF_8))
            out.fd.sync()
        }
        if (!tmp.renameTo(target)) throw IOException("cannot rename $tmp to $target")
        return target
    }

    /** The collector's answer: HTTP status (0 when it could not be reached) and a short text. */
    data class Posted(val status: Int, val message: String) {
        val accepted: Boolean get() = status in 200..299
    }

    /**
     * POST `<baseUrl>/api/records` with a JSON body and, when given, `Authorization: Bearer <token>`.
     * Never throws: the record file is already written, so a collector problem must not turn the
     * run into an error file.
     */
    fun post(baseUrl: String, token: String?, json: String, timeoutMs: Int = 10_000): Posted {
        val conn = try {
            URL("${baseUrl.trimEnd('/')}/api/records").openConnection() as HttpURLConnection
        } catch (e: Exception) {
            return Posted(0, "cannot reach $baseUrl: $e")
        }
        return try {
            conn.requestMethod = "POST"
            conn.connectTimeout = timeoutMs
            conn.readTimeout = 2 * timeoutMs
            conn.doOutput = true
            conn.setRequestProperty("Content-Type", "application/json; charset=utf-8")
            if (token != null) conn.setRequestProperty("Authorization", "Bearer $token")
            val body = json.toByteArray(Charsets.UTF_8)
            conn.setFixedLengthStreamingMode(body.size)
            conn.outputStream.use { it.write(body) }
            val code = conn.responseCode
            val stream = if (code in 200..299) conn.inputStream else conn.errorStream
            Posted(code, stream?.bufferedReader()?.use { it.readText() }?.take(500) ?: "")
        } catch (e: Exception) {
            // Not only IOException: a token with a line break makes setRequestProperty throw IllegalArgumentException.
            Posted(0, "cannot reach $baseUrl: $e")
        } finally {
            conn.disconnect()
        }
    }
}
