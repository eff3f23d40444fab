package org.abpn.app

import org.abpn.core.Accelerator
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertTrue
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.tensorflow.lite.gpu.GpuDelegateFactory

/** The options TFLite gets (its Java option classes load without the JNI library). */
@RunWith(RobolectricTestRunner::class)
class AcceleratorSetupTest {
    @Test fun nodesADelegateRefusesRunOnXnnpackAsTfliteDoesByDefault() {
        val options = AcceleratorSetup.fallbackOptions(3)
        assertEquals(true, options.useXNNPACK)
        assertEquals(3, options.numThreads)
    }

    @Test fun theGpuDelegateGetsBenchmarkModelsChoicesAndTheFlagChangesThem() {
        val record = linkedMapOf<String, Any?>()
        val options = GpuDelegateFactory.Options()
        AcceleratorSetup.gpuChoices(options, GpuSettings(), record)
        // benchmark_model: gpu_inference_for_sustained_speed false -> FAST_SINGLE_ANSWER; precision loss allowed.
        assertEquals(GpuDelegateFactory.Options.INFERENCE_PREFERENCE_FAST_SINGLE_ANSWER, options.inferencePreference)
        assertEquals("fast_single_answer", record["inference_preference"])
        assertEquals(true, record["precision_loss_allowed"])
        assertEquals("unset", record["forced_backend"])
        val sustained = GpuDelegateFactory.Options()
        AcceleratorSetup.gpuChoices(sustained, GpuSettings(sustainedSpeed = true), record)
        assertEquals(GpuDelegateFactory.Options.INFERENCE_PREFERENCE_SUSTAINED_SPEED, sustained.inferencePreference)
    }

    /**
     * Without TFLite's JNI library here, the first native call throws: the class that made it tells
     * which path ran. benchmark_model never consults the CompatibilityList; the app only when asked.
     */
    @Test fun theCompatibilityListIsConsultedOnlyWhenAsked() {
        val context = RuntimeEnvironment.getApplication()
        fun frames(t: Throwable?): List<String> = generateSequence(t) { it.cause }.flatMap { it.stackTrace.asSequence() }.map { it.className }.toList()
        val plain = runCatching { AcceleratorSetup.prepare(context, Accelerator.GPU, -1) }.exceptionOrNull()
        assertNotNull("no native call without the JNI library?", plain)
        assertFalse(frames(plain).toString(), frames(plain).any { "CompatibilityList" in it })
        val gated = runCatching { AcceleratorSetup.prepare(context, Accelerator.GPU, -1, null, GpuSettings(compatibilityList = true)) }.exceptionOrNull()
        assertTrue(frames(gated).toString(), frames(gated).any { "CompatibilityList" in it })
    }
}
