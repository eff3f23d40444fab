package org.abpn.core

/**
 * An `am start` command line as the host sends it through `sh -c` on the phone, split the way the
 * shell and AOSP's `am` (ActivityManagerShellCommand / Intent.parseCommandArgs) read it: the
 * component of `-n`, the flags `-S` and `-W`, and the typed extras `--es`, `--ei`, `--ez`. The
 * Robolectric tests start BenchmarkActivity from the same fixture file the host's tests check.
 */
data class AmStartCommand(val component: String, val forceStop: Boolean, val wait: Boolean, val extras: Map<String, Any?>) {
    companion object {
        fun parse(line: String): AmStartCommand {
            val words = shellWords(line)
            val start = words.windowed(2).indexOfFirst { it == listOf("am", "start") }
            require(start >= 0) { "not an 'am start' command: $line" }
            var component: String? = null
            var forceStop = false
            var wait = false
            val extras = LinkedHashMap<String, Any?>()
            var i = start + 2
            fun next(what: String): String = words.getOrNull(i++) ?: throw IllegalArgumentException("$what needs a value")
            while (i < words.size) {
                when (val w = words[i++]) {
                    "-S" -> forceStop = true
                    "-W" -> wait = true
                    "-n" -> component = next("-n")
                    "--es" -> { val k = next(w); extras[k] = next(w) }
                    "--ei" -> { val k = next(w); extras[k] = next(w).toInt() }
                    "--ez" -> { val k = next(w); extras[k] = parseBool(next(w)) }
                    else -> throw IllegalArgumentException("unexpected word '$w' in the am start command")
                }
            }
            return AmStartCommand(component ?: throw IllegalArgumentException("no -n component"), forceStop, wait, extras)
        }

        /** am's --ez: "true"/"t" or "false"/"f" (case-insensitive), else an integer != 0. */
        private fun parseBool(v: String): Boolean = when (v.lowercase()) {
            "true", "t" -> true
            "false", "f" -> false
            else -> v.toInt() != 0
        }

        /** POSIX shell words: single quotes literal, double quotes and backslashes as sh reads them, no expansions. */
        fun shellWords(line: String): List<String> {
            val words = ArrayList<String>()
            val cur = StringBuilder()
            var inWord = false
            var i = 0
            while (i < line.length) {
                val c = line[i]
                when {
                    c == '\'' -> {
                        val end = line.indexOf('\'', i + 1)
                        require(end >= 0) { "unclosed single quote" }
                        cur.append(line, i + 1, end); inWord = true; i = end
                    }
                    c == '"' -> {
                        i++
                        while (i < line.length && line[i] != '"') {
                            if (line[i] == '\\' && i + 1 < line.length && line[i + 1] in "\"\\$`") i++
                            cur.append(line[i]); i++
                        }
                        require(i < line.length) { "unclosed double quote" }
                        inWord = true
                    }
                    c == '\\' && i + 1 < line.length && line[i + 1] == '\n' -> i++
                    c == '\\' && i + 1 < line.length -> { cur.append(line[i + 1]); inWord = true; i++ }
                    c.isWhitespace() -> if (inWord) { words.add(cur.toString()); cur.setLength(0); inWord = false }
                    else -> { cur.append(c); inWord = true }
                }
                i++
            }
            if (inWord) words.add(cur.toString())
            return words
        }
    }
}
