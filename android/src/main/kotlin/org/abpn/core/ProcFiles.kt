package org.abpn.core

/** What /proc/self says about the measuring process: memory (status) and scheduling group (cgroup). */
object ProcFiles {
    const val STATUS = "/proc/self/status"

    /** A `Name:   1234 kB` field of /proc/<pid>/status, in bytes; null when absent. */
    fun statusBytes(status: String, field: String): Long? {
        val line = status.lineSequence().firstOrNull { it.startsWith("$field:") } ?: return null
        val m = Regex("^$field:\\s*(\\d+)\\s*kB").find(line) ?: return null
        return m.groupValues[1].toLong() * 1024
    }

    /**
     * The cpuset of a /proc/<pid>/cgroup text: the path of the `cpuset` controller line
     * (`4:cpuset:/top-app` on cgroup v1 and Android's mixed hierarchy). On a pure cgroup v2 kernel
     * there is no such line; then [cpusetFile] (/proc/self/cpuset, CONFIG_CPUSETS) is the answer.
     */
    fun cpuset(cgroup: String, cpusetFile: String?): String? {
        for (line in cgroup.lineSequence()) {
            val parts = line.split(':', limit = 3)
            if (parts.size == 3 && parts[1].split(',').contains("cpuset")) return parts[2].trim().ifEmpty { null }
        }
        return cpusetFile?.trim()?.ifEmpty { null }
    }
}

/**
 * When the app's benchmark activity was started (visible) and stopped, to tell whether a timed phase
 * ran while the app was visible. Android 12+'s cached-apps freezer and the background cpusets apply
 * to an app whose activity stopped; such timings are not the app's.
 */
class VisibilityLog {
    private val changes = ArrayList<Pair<Long, Boolean>>()

    @Synchronized fun changed(atMs: Long, visible: Boolean) { changes.add(atMs to visible) }

    /** null when no activity ever reported (a runner without one); else visible during all of [fromMs]..[toMs]. */
    @Synchronized fun visibleThroughout(fromMs: Long, toMs: Long): Boolean? {
        if (changes.isEmpty()) return null
        val atStart = changes.lastOrNull { it.first <= fromMs }?.second ?: return false
        return atStart && changes.none { it.first in (fromMs + 1)..toMs && !it.second }
    }
}
