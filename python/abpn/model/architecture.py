"""ABPN: the Anchor-based Plain Net for x3 super-resolution (Du et al. 2021, arXiv 2105.09750).

Seven 3x3 convolutions learn a residual over an "anchor": the input repeated nine times along
channels, which depth_to_space turns into a nearest-neighbour x3 upscale. Inputs and outputs are
raw 0..255 RGB values, so the network needs no normalisation layers and quantizes cleanly.

Every non-standard step is a small registered layer (not a Python-lambda `Lambda`), so the model
can be saved, reloaded and cloned by tensorflow-model-optimization for quantization-aware training.
"""
import numpy as np

import abpn  # noqa: F401  (selects the Keras 2 API before TensorFlow loads)
import tensorflow as tf
import tf_keras as keras

from abpn import SCALE

FEATURES = 28
ANCHOR_CHANNELS = 3 * SCALE * SCALE  # 27
PARAMETERS = 42_539


def anchor_kernel():
    """The 1x1 kernel (1, 1, 3, 27) with 0/1 weights that copies RGB into every group of three
    output channels: output channel c is input channel c % 3, as tf.concat([x] * 9) orders them."""
    kernel = np.zeros((1, 1, 3, ANCHOR_CHANNELS), np.float32)
    kernel[0, 0, np.arange(ANCHOR_CHANNELS) % 3, np.arange(ANCHOR_CHANNELS)] = 1.0
    return kernel


@keras.utils.register_keras_serializable(package="abpn")
class Anchor(keras.layers.Layer):
    """Repeats the RGB input SCALE**2 times along channels: the nearest-neighbour upscale after
    depth_to_space, so the convolutions only learn the residual.

    The repeat is a 1x1 convolution with a fixed 0/1 kernel, not a concatenation of nine copies:
    TFLite's XNNPACK delegate takes a CONV_2D but not a 9-input CONCATENATION, and 0 and 1 are
    exact in int8 (per-channel scale 1/127, weight 127), so the INT8 result is the same copy. The
    kernel is a constant, not a weight: the layer has no variables, and weights saved before this
    change load unchanged.
    """

    def call(self, inputs):
        return tf.nn.conv2d(inputs, tf.constant(anchor_kernel(), inputs.dtype), strides=1, padding="VALID")


@keras.utils.register_keras_serializable(package="abpn")
class ConcatAnchor(Anchor):
    """The authors' anchor, nine copies concatenated: the same values, but the 9-input
    CONCATENATION it converts to runs on TFLite's reference kernels. Kept to time and check the
    two graphs against each other (benchmarks/int8_latency.py, tests/test_quantize.py)."""

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


def build_abpn(input_shape=(None, None, 3), clip=True, name="abpn", anchor=Anchor):
    """The float ABPN. `clip=False` leaves out the final clip: the quantized export gets the same
    effect for free from the output quantizer's fixed [0, 255] range (see quantize.py). `anchor`
    is the anchor's layer class (ConcatAnchor for the authors' graph)."""
    inputs = keras.Input(shape=input_shape, name="lr")
    anchor = anchor(name="anchor")(inputs)
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
    "ConcatAnchor": ConcatAnchor,
    "DepthToSpace": DepthToSpace,
    "ClipToPixelRange": ClipToPixelRange,
}


# ----------------------------------------------------------------------------------------------
# Re-parameterized training (ECBSR, Zhang et al. 2021; SESR, Bhardwaj et al. 2022)

# Fixed edge filters of ECBSR's branches, applied after a learned 1x1 conv with learned scales.
EDGE_FILTERS = {
    "sobel_x": [[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]],
    "sobel_y": [[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -1.0]],
    "laplacian": [[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]],
}
EXPAND = 2  # the 1x1 branch widens to EXPAND x filters before its 3x3, as ECBSR's depth multiplier


def _pad_with(z, value):
    """`z` padded by one pixel of `value` (per channel): the 1x1 branch's output outside the image
    is its bias, which is what the merged 3x3 conv computes over the zero-padded input."""
    return tf.pad(z - value, [[0, 0], [1, 1], [1, 1], [0, 0]]) + value


@keras.utils.register_keras_serializable(package="abpn")
class RepConv2D(keras.layers.Layer):
    """A 3x3 "same" conv trained as parallel linear branches that merge exactly into one 3x3 conv:
    a 3x3 conv; a 1x1 conv to EXPAND x filters followed by a 3x3 conv; for each EDGE_FILTERS entry
    a 1x1 conv followed by that fixed filter with a learned per-channel scale and bias; and the
    identity when input and output channels match.

    `call` merges the branches and runs one conv, so a step costs about what a plain conv does
    while the gradients still reach every branch (SESR's trick). `branched` runs the branches one
    by one, for checking that the merge is exact.
    """

    def __init__(self, filters, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        cin, f = int(input_shape[-1]), self.filters
        self.identity = cin == f
        add = self.add_weight
        self.k3 = add(name="k3", shape=(3, 3, cin, f), initializer="glorot_uniform")
        self.b3 = add(name="b3", shape=(f,), initializer="zeros")
        self.expand = add(name="expand", shape=(cin, EXPAND * f), initializer="glorot_uniform")
        self.expand_bias = add(name="expand_bias", shape=(EXPAND * f,), initializer="zeros")
        # Small at the start so the sum of branches begins close to the plain 3x3 conv's scale.
        def small():
            return keras.initializers.RandomNormal(stddev=1e-3)

        self.squeeze = add(name="squeeze", shape=(3, 3, EXPAND * f, f), initializer=small())
        self.squeeze_bias = add(name="squeeze_bias", shape=(f,), initializer="zeros")
        # The edge branches' 1x1 convs have no bias: the filters sum to zero, so a constant
        # (padded with itself, as below) would contribute nothing.
        self.edge_1x1, self.edge_scale, self.edge_bias = [], [], []
        for name in EDGE_FILTERS:
            self.edge_1x1.append(add(name=f"{name}_1x1", shape=(cin, f), initializer="glorot_uniform"))
            self.edge_scale.append(add(name=f"{name}_scale", shape=(f,), initializer=small()))
            self.edge_bias.append(add(name=f"{name}_bias", shape=(f,), initializer="zeros"))
        super().build(input_shape)

    def merged(self):
        """(kernel, bias) of the single 3x3 conv that equals the sum of the branches."""
        kernel = self.k3 + tf.einsum("im,hwmo->hwio", self.expand, self.squeeze)
        bias = self.b3 + self.squeeze_bias + tf.einsum("m,hwmo->o", self.expand_bias, self.squeeze)
        for mask, w, scale, edge_bias in zip(EDGE_FILTERS.values(), self.edge_1x1, self.edge_scale, self.edge_bias):
            mask = tf.constant(mask, self.k3.dtype)
            kernel += mask[:, :, None, None] * (w * scale)[None, None]
            bias += edge_bias
        if self.identity:
            kernel += tf.pad(tf.eye(self.filters, dtype=self.k3.dtype)[None, None], [[1, 1], [1, 1], [0, 0], [0, 0]])
        return kernel, bias

    def call(self, inputs):
        kernel, bias = self.merged()
        return self.activation(tf.nn.conv2d(inputs, kernel, 1, "SAME") + bias)

    def branched(self, inputs):
        y = tf.nn.conv2d(inputs, self.k3, 1, "SAME") + self.b3
        z = tf.einsum("bhwi,im->bhwm", inputs, self.expand) + self.expand_bias
        y += tf.nn.conv2d(_pad_with(z, self.expand_bias), self.squeeze, 1, "VALID") + self.squeeze_bias
        for mask, w, scale, edge_bias in zip(EDGE_FILTERS.values(), self.edge_1x1, self.edge_scale, self.edge_bias):
            z = tf.einsum("bhwi,io->bhwo", inputs, w)
            depthwise = tf.tile(tf.constant(mask, self.k3.dtype)[:, :, None, None], [1, 1, self.filters, 1])
            y += scale * tf.nn.depthwise_conv2d(z, depthwise, [1, 1, 1, 1], "SAME") + edge_bias
        if self.identity:
            y += inputs
        return self.activation(y)

    def start_from(self, kernel, bias):
        """Sets the branches so that the merged conv is (kernel, bias): the other branches' last
        factors start at zero (so their first factors still get gradients through them) and the
        3x3 branch takes the rest. For fine-tuning a plain model with branches."""
        for variable in (self.squeeze, self.squeeze_bias, *self.edge_scale, *self.edge_bias):
            variable.assign(tf.zeros_like(variable))
        merged_kernel, merged_bias = self.merged()
        self.k3.assign(kernel - (merged_kernel - self.k3))
        self.b3.assign(bias - (merged_bias - self.b3))

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "activation": keras.activations.serialize(self.activation)}


def build_abpn_reparam(input_shape=(None, None, 3), clip=True, name="abpn_reparam"):
    """ABPN with every conv a RepConv2D of the same name: trains the branches, computes exactly
    what `build_abpn` does with the merged weights (see `merge_reparam`)."""
    inputs = keras.Input(shape=input_shape, name="lr")
    anchor = Anchor(name="anchor")(inputs)
    x = inputs
    for i in range(5):
        x = RepConv2D(FEATURES, activation="relu", name=f"conv{i + 1}")(x)
    x = RepConv2D(ANCHOR_CHANNELS, activation="relu", name="conv6")(x)
    x = RepConv2D(ANCHOR_CHANNELS, name="conv7")(x)
    x = keras.layers.Add(name="add_anchor")([x, anchor])
    x = DepthToSpace(SCALE, name="depth_to_space")(x)
    if clip:
        x = ClipToPixelRange(name="clip")(x)
    return keras.Model(inputs, x, name=name)


def is_reparam(model):
    return any(isinstance(layer, RepConv2D) for layer in model.layers)


def merge_reparam(model):
    """The plain ABPN (7 Conv2D) equal to a re-parameterized one; a plain model comes back as is."""
    if not is_reparam(model):
        return model
    clip = any(isinstance(layer, ClipToPixelRange) for layer in model.layers)
    plain = build_abpn(input_shape=model.input_shape[1:], clip=clip)
    for layer in model.layers:
        if isinstance(layer, RepConv2D):
            kernel, bias = layer.merged()
            plain.get_layer(layer.name).set_weights([kernel.numpy(), bias.numpy()])
    return plain


def reparam_from_plain(plain):
    """A re-parameterized ABPN whose merged weights are `plain`'s: fine-tuning a trained model
    with branches."""
    model = build_abpn_reparam(input_shape=plain.input_shape[1:])
    for layer in model.layers:
        if isinstance(layer, RepConv2D):
            kernel, bias = plain.get_layer(layer.name).get_weights()
            layer.start_from(tf.constant(kernel), tf.constant(bias))
    return model


CUSTOM_OBJECTS["RepConv2D"] = RepConv2D
