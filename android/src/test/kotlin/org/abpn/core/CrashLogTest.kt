package org.abpn.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test

class CrashLogTest {
    // Shaped like a real logcat -v epoch: libc in the dying process, then crash_dump's DEBUG lines.
    private val log = listOf(
        "1795530000.000  5000  5000 I ABPN    : gpu: measuring",
        "1795530001.000  5000  5100 F libc    : Fatal signal 11 (SIGSEGV), code 1 (SEGV_MAPERR), fault addr 0x0 in tid 5100 (abpn-accel), pid 5000 (org.abpn.app:accelerator)",
        "1795530001.100  5200  5200 F DEBUG   : *** *** *** *** *** *** *** *** *** *** *** *** *** *** *** ***",
        "1795530001.101  5200  5200 F DEBUG   : signal 11 (SIGSEGV), code 1 (SEGV_MAPERR), fault addr 0x0000000000000000",
        "1795530001.102  5200  5200 F DEBUG   : backtrace:",
        "1795530001.103  5200  5200 F DEBUG   :       #00 pc 000000000004a1b4  /vendor/lib64/libOpenCL.so",
        "1795530001.200  4000  4000 I ABPN    : main process line",
    )

    @Test fun findsTheSignalAndTheTopOfTheCrash() {
        val c = CrashLog.parse(log, 5000, 1795530000500)
        assertEquals(11, c.signal)
        assertEquals("SIGSEGV", c.signalName)
        assertEquals(5, c.log.size)
        assertTrue(c.log[0], c.log[0].startsWith("libc: Fatal signal 11 (SIGSEGV)"))
        assertTrue(c.log.last(), c.log.last().contains("#00 pc 000000000004a1b4"))
    }

    @Test fun anotherPidsCrashOrAnOlderOneIsNotOurs() {
        assertEquals(Crash(null, null, emptyList()), CrashLog.parse(log, 5001, 0))
        assertEquals(null, CrashLog.parse(log, 5000, 1795530002000).signal)
    }

    @Test fun theExitInfoSignalFillsInWhenTheLogHasRotated() {
        assertEquals(Crash(6, "SIGABRT", emptyList()), CrashLog.parse(emptyList(), 5000, 0, exitSignal = 6))
    }

    @Test fun aJavaCrashKeepsItsFatalException() {
        val java = listOf(
            "1795530001.000  5000  5100 E AndroidRuntime: FATAL EXCEPTION: abpn-accel",
            "1795530001.001  5000  5100 E AndroidRuntime: java.lang.OutOfMemoryError: Failed to allocate",
        )
        val c = CrashLog.parse(java, 5000, 0)
        assertEquals(2, c.log.size)
        assertTrue(c.reason(Accelerator.GPU), c.reason(Accelerator.GPU).contains("uncaught Java exception"))
    }
}
