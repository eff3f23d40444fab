package org.abpn.core

import org.junit.Assert.assertEquals
import org.junit.Test

class CooldownTest {
    private val base = PhoneState(true, false, 80, false, false, 0, 0.3, 30.0)

    private class Clock { var ms = 0L; val sleeps = ArrayList<Long>(); fun sleep(d: Long) { sleeps.add(d); ms += d } }

    @Test fun coolMeansStatusNoneElseLowHeadroom() {
        assertEquals(true, Cooldown.isCool(base))
        assertEquals(false, Cooldown.isCool(base.copy(thermalStatus = 1)))
        assertEquals(true, Cooldown.isCool(base.copy(thermalStatus = null, thermalHeadroom = 0.69)))
        assertEquals(false, Cooldown.isCool(base.copy(thermalStatus = null, thermalHeadroom = 0.7)))
        assertEquals(null, Cooldown.isCool(base.copy(thermalStatus = null, thermalHeadroom = Double.NaN)))
        assertEquals(null, Cooldown.isCool(base.copy(thermalStatus = null, thermalHeadroom = null)))
    }

    @Test fun waitsUntilTheStatusIsBackToNone() {
        val c = Clock()
        val statuses = ArrayDeque(listOf(2, 1, 1, 0))
        val waited = Cooldown.wait(0, 60, { base.copy(thermalStatus = statuses.removeFirst()) }, { c.ms }, c::sleep)
        assertEquals(3.0, waited, 1e-9)
    }

    @Test fun theCapEndsTheWait() {
        val c = Clock()
        val waited = Cooldown.wait(5, 10, { base.copy(thermalStatus = 3) }, { c.ms }, c::sleep)
        assertEquals(15.0, waited, 1e-9)
        assertEquals(5000L, c.sleeps.first())
    }

    @Test fun aCoolOrSilentPhoneOnlySleepsTheFixedTime() {
        val c = Clock()
        assertEquals(0.0, Cooldown.wait(0, 60, { base }, { c.ms }, c::sleep), 1e-9)
        assertEquals(2.0, Cooldown.wait(2, 60, { base.copy(thermalStatus = null, thermalHeadroom = null) }, { c.ms }, c::sleep), 1e-9)
    }
}
