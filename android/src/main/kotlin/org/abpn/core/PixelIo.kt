package org.abpn.core

/**
 * How the app's uint8 pixel bytes meet a model's quantized image tensor. The project's INT8 models
 * take raw 0..255 pixels in one of two forms: uint8 I/O (scale 1, zero point 0: the tensor byte is
 * the pixel) or int8 I/O (scale 1, zero point -128: the tensor byte is pixel - 128). For a uint8
 * pixel x, x - 128 as a signed byte is x XOR 0x80, the top bit flipped, so the int8 form costs one
 * XOR per byte inside the packing loops the tiler runs anyway, and spares the model its two
 * uint8<->int8 QUANTIZE ops over 0.7 M input and 6.2 M output values, which XNNPACK does not take.
 */
enum class PixelIo(val dtype: String, val zeroPoint: Int, val flip: Int) {
    UINT8("uint8", 0, 0),
    INT8("int8", -128, 0x80);

    /** The tensor byte of pixel value [pixel] (its low 8 bits are used). */
    fun toTensor(pixel: Int): Byte = (pixel xor flip).toByte()

    /** The pixel value 0..255 of a tensor byte. */
    fun toPixel(tensor: Byte): Int = (tensor.toInt() xor flip) and 0xFF

    companion object {
        /**
         * The form of a tensor with these quantization parameters, or null when its bytes are not
         * pixels (a float tensor, or another scale or zero point). TFLite reports scale 0 for an
         * integer tensor that carries no quantization: its values are then taken as they are.
         */
        fun of(dtype: String, scale: Float, zeroPoint: Int): PixelIo? =
            values().firstOrNull { it.dtype == dtype && it.zeroPoint == zeroPoint && (scale == 1f || scale == 0f) }
    }
}
