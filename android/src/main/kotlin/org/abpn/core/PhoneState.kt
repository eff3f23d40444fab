package org.abpn.core

/**
 * What the phone says about itself around one accelerator's measurement. Every field is null when
 * this phone cannot tell (thermal status before API 29, headroom before API 30 or when the
 * platform answers NaN).
 */
data class PhoneState(
    val screenOn: Boolean?,
    val keyguardLocked: Boolean?,
    val batteryPct: Int?,
    val charging: Boolean?,
    val powerSave: Boolean?,
    val thermalStatus: Int?,
    val thermalHeadroom: Double?,
    val batteryTempC: Double?,
) : java.io.Serializable {
    fun toJsonMap(): Map<String, Any?> = linkedMapOf(
        "screen_on" to screenOn,
        "keyguard_locked" to keyguardLocked,
        "battery_pct" to batteryPct,
        "charging" to charging,
        "power_save" to powerSave,
        "thermal_status" to thermalStatus,
        "thermal_headroom" to thermalHeadroom?.takeIf { !it.isNaN() && !it.isInfinite() },
        "battery_temp_c" to batteryTempC,
    )
}

/** The phone before and after one accelerator, and how long the cool-down before it waited. */
data class AcceleratorConditions(val before: PhoneState, val after: PhoneState, val cooldownWaitedS: Double) : java.io.Serializable {
    fun toJsonMap(): Map<String, Any?> = linkedMapOf(
        "before" to before.toJsonMap(),
        "after" to after.toJsonMap(),
        "cooldown_waited_s" to cooldownWaitedS,
    )
}

/**
 * The cool-down before each accelerator after the first: the fixed `cooldown_s` sleep, then a wait
 * until the phone is cool again, at most `cooldown_max_s`. "Cool" is PowerManager's thermal status
 * NONE (0); phones that do not report a status (API < 29) but report headroom count as cool below
 * a headroom of 0.7 (1.0 is where throttling starts: PowerManager.getThermalHeadroom docs). A phone
 * that reports neither is not waited for.
 */
object Cooldown {
    const val HEADROOM_COOL = 0.7
    const val POLL_MS = 1000L

    /** true cool, false hot, null unknown. */
    fun isCool(state: PhoneState): Boolean? {
        state.thermalStatus?.let { return it == 0 }
        val h = state.thermalHeadroom ?: return null
        if (h.isNaN() || h.isInfinite()) return null
        return h < HEADROOM_COOL
    }

    /** Returns the seconds waited in all. [sleepMs] and [nowMs] are the clock (a fake one in tests). */
    fun wait(fixedS: Int, maxS: Int, read: () -> PhoneState, nowMs: () -> Long, sleepMs: (Long) -> Unit): Double {
        val start = nowMs()
        if (fixedS > 0) sleepMs(fixedS * 1000L)
        val thermalStart = nowMs()
        while (isCool(read()) == false) {
            val left = maxS * 1000L - (nowMs() - thermalStart)
            if (left <= 0) break
            sleepMs(Math.min(POLL_MS, left))
        }
        return (nowMs() - start) / 1000.0
    }
}
