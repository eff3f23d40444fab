package org.abpn.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertThrows
import org.junit.Test
import java.nio.ByteBuffer

class ModelAndChoiceTest {
    @Test fun countsOperatorsOfARealConvertedModel() {
        // tiny3ops.tflite: Conv2D(relu) -> Conv2D -> Add, made by tf.lite.TFLiteConverter
        val bytes = javaClass.getResourceAsStream("/tiny3ops.tflite")!!.use { it.readBytes() }
        assertEquals(3, TfliteModelFile.mainSubgraphOperatorCount(ByteBuffer.wrap(bytes)))
    }

    @Test fun readsTheInputAndOutputTensorsWithoutTflite() {
        val bytes = javaClass.getResourceAsStream("/tiny3ops.tflite")!!.use { it.readBytes() }
        val (input, output) = TfliteModelFile.io(ByteBuffer.wrap(bytes))
        assertEquals(TensorInfo(listOf(1, 4, 4, 3), "float32"), input)
        assertEquals(TensorInfo(listOf(1, 4, 4, 3), "float32"), output)
        assertEquals(192, input.bytes)
        assertEquals(6_220_800, TensorInfo(listOf(1, 1080, 1920, 3), "uint8").bytes)
        assertEquals(null, TensorInfo(listOf(1, -1, 3), "uint8").bytes)
    }

    @Test fun rejectsAFileThatIsNotTflite() {
        assertThrows(IllegalArgumentException::class.java) {
            TfliteModelFile.mainSubgraphOperatorCount(ByteBuffer.wrap("PK\u0003\u0004 not a model".toByteArray()))
        }
    }

    @Test fun demoDefaultIsTheFastestVerifiedAccelerator() {
        val past = listOf(
            PastResult(Accelerator.CPU, true, true, 900.0),
            PastResult(Accelerator.GPU, true, false, 50.0),      // wrong pixels
            PastResult(Accelerator.NNAPI, true, null, 40.0),     // unverified
            PastResult(Accelerator.QNN_HTP, true, true, 30.0),
            PastResult(Accelerator.QNN_DSP, false, null, null),
        )
        assertEquals(Accelerator.QNN_HTP, AcceleratorChoice.pick(past))
        assertEquals(Accelerator.CPU, AcceleratorChoice.pick(past, listOf(Accelerator.CPU, Accelerator.GPU)))
        assertEquals(Accelerator.CPU, AcceleratorChoice.pick(emptyList()))
    }
}
