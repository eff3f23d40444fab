package org.abpn.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Test

class ProcFilesTest {
    // A Pixel's /proc/self/status and /proc/self/cgroup (Android 14, cgroup v1 cpuset and v2 hierarchy).
    private val status = "Name:\tabpn.app:accel\nVmPeak:\t 15600000 kB\nVmHWM:\t  212480 kB\nVmRSS:\t  180224 kB\nThreads:\t31\n"
    private val cgroup = "5:schedtune:/top-app\n4:cpuset:/top-app\n3:cpu:/\n0::/uid_10234/pid_8123\n"

    @Test fun readsRssAndItsPeakInBytes() {
        assertEquals(180224L * 1024, ProcFiles.statusBytes(status, "VmRSS"))
        assertEquals(212480L * 1024, ProcFiles.statusBytes(status, "VmHWM"))
        assertNull(ProcFiles.statusBytes(status, "VmSwap"))
    }

    @Test fun theCpusetComesFromTheCgroupFileOrElseFromProcSelfCpuset() {
        assertEquals("/top-app", ProcFiles.cpuset(cgroup, null))
        assertEquals("/foreground", ProcFiles.cpuset("0::/uid_10234/pid_8123\n", "/foreground\n"))
        assertNull(ProcFiles.cpuset("0::/uid_10234/pid_8123\n", null))
    }

    @Test fun aTimedPhaseIsVisibleOnlyWhenTheActivityWasStartedThroughout() {
        assertNull("no activity reported (a runner without one)", VisibilityLog().visibleThroughout(10, 20))
        val log = VisibilityLog()
        log.changed(5, true)
        assertEquals(true, log.visibleThroughout(10, 20))
        log.changed(15, false)
        assertFalse(log.visibleThroughout(10, 20)!!)
        log.changed(17, true)
        assertFalse("stopped in between", log.visibleThroughout(10, 20)!!)
        assertTrue(log.visibleThroughout(18, 30)!!)
        assertFalse("stopped before the phase began", log.visibleThroughout(16, 16)!!)
    }
}
