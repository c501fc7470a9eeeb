"""The Keras random CNN: quantized-Laplace weights drawn from the config's seed, binary noise in.

See the package docstring (:mod:`zoo_random_cnn`) for the model class and what changed against
the seed notebook.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

import zoo_core
from zoo_core.frameworks import import_keras
from zoo_random_cnn.architecture import Architecture, qlaplace_levels, search

# keras is imported here, not in the package's __init__: only building and sampling a model need it,
# and listing or validating configs must stay fast. import_keras checks the backend and keeps
# TensorFlow's start-up notices off the terminal.
keras = import_keras("random-cnn")

#: images are generated in chunks of this many, so that a call's arithmetic never depends on n.
CHUNK = 8
#: standard deviation of the (standardised) pre-sigmoid output; sets the images' contrast.
OUTPUT_GAIN = 1.5


def initializer_qlaplace(bits_per_weight: int, scale: float, rng: np.random.Generator):
    """A ``sample(shape, dtype=None)`` drawing the seed's quantized-Laplace values with ``rng``.

    The ``2^bpw + 1`` values (see :func:`~zoo_random_cnn.architecture.qlaplace_levels`) are
    equiprobable. ``rng`` is a numpy ``Generator``, so the draw is a pure function of its seed.
    """
    levels = np.asarray(qlaplace_levels(bits_per_weight, scale), dtype=np.float64)

    def sample(shape, dtype=None):
        values = levels[rng.integers(0, len(levels), size=tuple(shape))]
        return values.astype(dtype or np.float32)

    return sample


def quantize_output(images: np.ndarray) -> np.ndarray:
    """Sigmoid outputs in [0, 1] -> 4 bits (16 levels, ``floor(16 y)``) -> uint8 ``level * 17``."""
    levels = np.clip(np.floor(np.asarray(images, dtype=np.float32) * 16.0), 0, 15).astype(np.uint8)
    return levels * np.uint8(17)


class Standardize(keras.layers.Layer):
    """Per image and channel: subtract the spatial mean, divide by the spatial standard deviation.

    No parameters (it spends no bits): a deterministic function of its input that keeps every
    feature map at zero mean and unit variance, so the signal can neither die nor saturate.
    """

    def __init__(self, axes: tuple[int, ...] = (1, 2), epsilon: float = 1e-5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axes = tuple(axes)
        self.epsilon = epsilon

    def call(self, x):
        """Standardise over ``axes`` (the spatial axes by default)."""
        mean = keras.ops.mean(x, axis=self.axes, keepdims=True)
        var = keras.ops.mean(keras.ops.square(x - mean), axis=self.axes, keepdims=True)
        return (x - mean) * keras.ops.rsqrt(var + self.epsilon)

    def get_config(self) -> dict:
        """Keras layer config."""
        return {**super().get_config(), "axes": self.axes, "epsilon": self.epsilon}


def build_keras_model(arch: Architecture) -> keras.Model:
    """The Keras graph of ``arch`` with zero kernels (weights are set by :class:`RandomCNN`).

    Layers carry stable names: ``conv2d_1`` ... ``conv2d_<depth>`` (so the variable paths are
    ``conv2d_i/kernel``), ``up_sampling2d_j``, ``cropping2d`` and ``sigmoid``.
    """
    inputs = keras.Input(shape=arch.input_shape, name="noise")
    x = inputs
    block = ups = 0
    for i, (out, conv_block) in enumerate(zip(arch.conv_channels, arch.conv_blocks)):
        while block < conv_block:
            ups += 1
            block += 1
            x = keras.layers.UpSampling2D((2, 2), name=f"up_sampling2d_{ups}")(x)
        x = keras.layers.Conv2D(out, arch.kernel_size, padding="same", use_bias=False,
                                kernel_initializer="zeros", name=f"conv2d_{i + 1}")(x)
        if i < arch.depth - 1:
            x = Standardize(name=f"standardize_{i + 1}")(x)
            x = keras.layers.ReLU(name=f"re_lu_{i + 1}")(x)
    rows, cols = x.shape[1] - arch.height, x.shape[2] - arch.width
    if rows or cols:
        x = keras.layers.Cropping2D(((rows // 2, rows - rows // 2), (cols // 2, cols - cols // 2)),
                                    name="cropping2d")(x)
    x = Standardize(axes=(1, 2, 3), name=f"standardize_{arch.depth}")(x)
    x = keras.layers.Rescaling(OUTPUT_GAIN, name="gain")(x)
    outputs = keras.layers.Activation("sigmoid", name="sigmoid")(x)
    return keras.Model(inputs, outputs, name="random_cnn")


class RandomCNN(zoo_core.ZooModel):
    """A random generative CNN whose weights are a pure function of ``(config, seed)``.

    ``config`` keys: ``height``, ``width``, ``channels``, ``soph``, ``noise`` (fractions of the
    ``H*W*C*4`` uncompressed bits), ``bits_per_weight``, ``kernel_size`` and ``seed``.
    """

    def __init__(self, config: Mapping[str, Any], family=None) -> None:
        super().__init__(config, family)
        c = self.config
        self.architecture = search(c["height"], c["width"], c["channels"], c["soph"], c["noise"],
                                   c["bits_per_weight"], c["kernel_size"])
        self.keras_model = build_keras_model(self.architecture)
        self._convs = [self.keras_model.get_layer(f"conv2d_{i + 1}") for i in range(self.architecture.depth)]
        self._draw_weights(int(c["seed"]))

    def _draw_weights(self, seed: int) -> None:
        """Draw every kernel, layer by layer, from one ``numpy.random.default_rng(seed)``."""
        rng = np.random.default_rng(seed)
        for layer, shape, scale in zip(self._convs, self.architecture.kernel_shapes,
                                       self.architecture.laplace_scales):
            layer.kernel.assign(initializer_qlaplace(self.architecture.bits_per_weight, scale, rng)(shape))

    def noise(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` binary inputs (float32 in {0, 1}) of the input shape, from ``default_rng(seed)``."""
        rng = np.random.default_rng(seed)
        return rng.integers(0, 2, size=(n, *self.architecture.input_shape), dtype=np.uint8).astype(np.float32)

    def generate(self, inputs: np.ndarray) -> np.ndarray:
        """Run the network on given inputs; return the 4-bit images as uint8 ``(n, H, W, C)``."""
        inputs = np.asarray(inputs, dtype=np.float32)
        out = [np.asarray(self.keras_model(inputs[i:i + CHUNK], training=False))
               for i in range(0, len(inputs), CHUNK)]
        if not out:
            a = self.architecture
            return np.zeros((0, a.height, a.width, a.channels), dtype=np.uint8)
        return quantize_output(np.concatenate(out))

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` images from ``n`` binary inputs drawn with ``seed``; uint8 ``(n, H, W, C)``, 16 levels."""
        return self.generate(self.noise(n, seed))

    def state_dict(self) -> dict[str, np.ndarray]:
        """Kernels as float32 arrays keyed by their Keras variable path (``conv2d_1/kernel``, ...)."""
        return {v.path: np.array(v.numpy(), dtype=np.float32) for v in self.keras_model.weights}

    def load_state_dict(self, tensors: Mapping[str, np.ndarray]) -> None:
        """Assign kernels from arrays keyed like :meth:`state_dict` (names and shapes already checked)."""
        for v in self.keras_model.weights:
            v.assign(np.asarray(tensors[v.path], dtype=np.float32))

    @property
    def num_parameters(self) -> int:
        """Number of weights (no biases); equals ``architecture.parameters``."""
        return int(sum(int(np.prod(v.shape)) for v in self.keras_model.weights))

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(H, W, C)`` of the images, without running the network."""
        a = self.architecture
        return a.height, a.width, a.channels
