package org.abpn.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertThrows
import org.junit.Test

class AmStartCommandTest {
    @Test fun readsWhatTheHostSends() {
        val c = AmStartCommand.parse(
            "am start -S -W -n org.abpn.app/.BenchmarkActivity --es model '/data/local/tmp/abpn/my model.tflite' " +
                "--ei threads 4 --ez require_full_delegation true --es nnapi_accelerator qti-htp --es token 'it'\"'\"'s'",
        )
        assertEquals("org.abpn.app/.BenchmarkActivity", c.component)
        assertEquals(true, c.forceStop); assertEquals(true, c.wait)
        assertEquals(
            mapOf("model" to "/data/local/tmp/abpn/my model.tflite", "threads" to 4, "require_full_delegation" to true,
                "nnapi_accelerator" to "qti-htp", "token" to "it's"),
            c.extras,
        )
    }

    @Test fun lineContinuationsAndAShellPrefix() {
        val c = AmStartCommand.parse("sh -c exec am start -W \\\n  -n a/.B --ez x 0")
        assertEquals(mapOf("x" to false), c.extras)
        assertEquals(false, c.forceStop)
    }

    @Test fun refusesWhatAmWouldNotRead() {
        assertThrows(IllegalArgumentException::class.java) { AmStartCommand.parse("am start -n a/.B --ei n four") }
        assertThrows(IllegalArgumentException::class.java) { AmStartCommand.parse("am start --es model") }
        assertThrows(IllegalArgumentException::class.java) { AmStartCommand.parse("am force-stop org.abpn.app") }
    }
}
