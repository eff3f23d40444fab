"""ABPN: the Anchor-based Plain Net for x3 super-resolution (Du et al. 2021, arXiv 2105.09750).

Seven 3x3 convolutions learn a residual over an "anchor": the input repeated nine times along
channels, which depth_to_space turns into a nearest-neighbour x3 upscale. Inputs and outputs are
raw 0..255 RGB values, so the network needs no normalisation layers and quantizes cleanly.

Every non-standard step is a small registered layer (not a Python-lambda `Lambda`), so the model
can be saved, reloaded and cloned by tensorflow-model-optimization for quantization-aware training.
"""
import abpn  # noqa: F401  (selects the Keras 2 API before TensorFlow loads)
import tensorflow as tf
import tf_keras as keras

from abpn import SCALE

FEATURES = 28
ANCHOR_CHANNELS = 3 * SCALE * SCALE  # 27
PARAMETERS = 42_539


@keras.utils.register_keras_serializable(package="abpn")
class Anchor(keras.layers.Layer):
    """Repeats the RGB input SCALE**2 times along channels: the nearest-neighbour upscale after
    depth_to_space, so the convolutions only learn the residual."""

    def call(self, inputs):
        return tf.concat([inputs] * (SCALE * SCALE), axis=-1)


@keras.utils.register_keras_serializable(package="abpn")
class DepthToSpace(keras.layers.Layer):
    def __init__(self, block_size=SCALE, **kwargs):
        super().__init__(**kwargs)
        self.block_size = block_size

    def call(self, inputs):
        return tf.nn.depth_to_space(inputs, self.block_size)

    def get_config(self):
        return {**super().get_config(), "block_size": self.block_size}


@keras.utils.register_keras_serializable(package="abpn")
class ClipToPixelRange(keras.layers.Layer):
    def call(self, inputs):
        return tf.clip_by_value(inputs, 0.0, 255.0)


def build_abpn(input_shape=(None, None, 3), clip=True, name="abpn"):
    """The float ABPN. `clip=False` leaves out the final clip: the quantized export gets the same
    effect for free from the output quantizer's fixed [0, 255] range (see quantize.py)."""
    inputs = keras.Input(shape=input_shape, name="lr")
    anchor = Anchor(name="anchor")(inputs)
    x = inputs
    for i in range(5):
        x = keras.layers.Conv2D(FEATURES, 3, padding="same", activation="relu", name=f"conv{i + 1}")(x)
    x = keras.layers.Conv2D(ANCHOR_CHANNELS, 3, padding="same", activation="relu", name="conv6")(x)
    x = keras.layers.Conv2D(ANCHOR_CHANNELS, 3, padding="same", name="conv7")(x)
    x = keras.layers.Add(name="add_anchor")([x, anchor])
    x = DepthToSpace(SCALE, name="depth_to_space")(x)
    if clip:
        x = ClipToPixelRange(name="clip")(x)
    return keras.Model(inputs, x, name=name)


CUSTOM_OBJECTS = {
    "Anchor": Anchor,
    "DepthToSpace": DepthToSpace,
    "ClipToPixelRange": ClipToPixelRange,
}
