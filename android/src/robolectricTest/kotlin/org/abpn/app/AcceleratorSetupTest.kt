package org.abpn.app

import org.junit.Assert.assertEquals
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner

/** The options TFLite gets (its Java option classes load without the JNI library). */
@RunWith(RobolectricTestRunner::class)
class AcceleratorSetupTest {
    @Test fun nodesADelegateRefusesRunOnXnnpackAsTfliteDoesByDefault() {
        val options = AcceleratorSetup.fallbackOptions(3)
        assertEquals(true, options.useXNNPACK)
        assertEquals(3, options.numThreads)
    }
}
