package org.abpn.core

/**
 * A minimal JSON writer for the result record: maps (insertion order kept), lists, strings,
 * numbers, booleans and null. Kept here rather than using org.json so the record code is plain
 * Kotlin that the JVM tests exercise exactly as the phone runs it.
 */
object Json {
    fun encode(value: Any?): String = StringBuilder().also { write(it, value) }.toString()

    private fun write(out: StringBuilder, value: Any?) {
        when (value) {
            null -> out.append("null")
            is String -> writeString(out, value)
            is Boolean -> out.append(if (value) "true" else "false")
            is Int, is Long, is Short, is Byte -> out.append(value.toString())
            is Double -> writeDouble(out, value)
            is Float -> writeDouble(out, value.toDouble())
            is Map<*, *> -> {
                out.append('{')
                var first = true
                for ((k, v) in value) {
                    require(k is String) { "JSON object keys must be strings, got $k" }
                    if (!first) out.append(',')
                    first = false
                    writeString(out, k)
                    out.append(':')
                    write(out, v)
                }
                out.append('}')
            }
            is Iterable<*> -> {
                out.append('[')
                var first = true
                for (v in value) {
                    if (!first) out.append(',')
                    first = false
                    write(out, v)
                }
                out.append(']')
            }
            else -> throw IllegalArgumentException("cannot encode ${value::class.java.name} as JSON")
        }
    }

    private fun writeDouble(out: StringBuilder, d: Double) {
        require(!d.isNaN() && !d.isInfinite()) { "JSON has no NaN or infinity (got $d)" }
        // Whole numbers print without an exponent or ".0" noise; others use the shortest repr.
        if (d == Math.rint(d) && Math.abs(d) < 1e15) out.append(d.toLong().toString())
        else out.append(d.toString())
    }

    private fun writeString(out: StringBuilder, s: String) {
        out.append('"')
        for (c in s) {
            when (c) {
                '"' -> out.append("\\\"")
                '\\' -> out.append("\\\\")
                '\n' -> out.append("\\n")
                '\r' -> out.append("\\r")
                '\t' -> out.append("\\t")
                '\b' -> out.append("\\b")
                '\u000C' -> out.append("\\f")
                else -> if (c < ' ' || c == '\u2028' || c == '\u2029') {
                    out.append("\\u").append(String.format("%04x", c.code))
                } else {
                    out.append(c)
                }
            }
        }
        out.append('"')
    }
}
