"""The Keras random CNN: quantized-Laplace weights drawn from the config's seed, binary noise in.

See the package docstring (:mod:`zoo_random_cnn`) for the model class and what changed against
the seed notebook.

Sampling runs the network eagerly through ``keras.ops`` on the kernels held as tensors: no
``keras.Model`` is built per model (building and tracing one costs more than the whole forward of a
256x256 grid cell). :attr:`RandomCNN.keras_model` builds the equivalent functional model on demand
for inspection (``summary()``, layer outputs); the two compute the same function (tested).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

import zoo_core
from zoo_core.backends.frameworks import import_keras
from zoo_random_cnn.architecture import Architecture, qlaplace_levels
from zoo_random_cnn.information import image_information

# keras is imported here, not in the package's __init__: only building and sampling a model need it,
# and listing or validating configs must stay fast. import_keras checks the backend and keeps
# TensorFlow's start-up notices off the terminal.
if TYPE_CHECKING:  # pragma: no cover - the module, for annotations such as keras.Model
    import keras
else:
    keras = import_keras("random-cnn")
ops = keras.ops

#: images are generated in chunks of this many, so that a call's arithmetic never depends on n.
CHUNK = 8
#: standard deviation of the (standardised) pre-sigmoid output; sets the images' contrast.
OUTPUT_GAIN = 1.5
#: the fixed 3x3 binomial low-pass filter ([1 2 1] x [1 2 1] / 16) of the ``blur`` option.
BINOMIAL = np.outer([1.0, 2.0, 1.0], [1.0, 2.0, 1.0]).astype(np.float32) / 16.0
EPSILON = 1e-5


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


# -- the operations, shared by the eager forward and the functional model's layers -------------


def standardize(x, axes=(1, 2)):
    """Subtract the mean over ``axes`` and divide by the standard deviation (no parameters).

    ``axes`` is ``(1, 2)`` (per image and channel) or ``(1, 2, 3)`` (per image). The reductions
    run on a ``(n, pixels, channels)`` view: TensorFlow reduces a middle axis of a 3-D tensor
    several times faster than two axes of a 4-D one.
    """
    n, h, w, c = x.shape
    groups = c if tuple(axes) == (1, 2) else 1
    y = ops.reshape(x, (-1, h * w * c // groups, groups))
    centred = y - ops.mean(y, axis=1, keepdims=True)
    var = ops.mean(ops.square(centred), axis=1, keepdims=True)
    return ops.reshape(centred * ops.rsqrt(var + EPSILON), (-1, h, w, c))


def upsample(x, interpolation: str):
    """2x upsampling, ``nearest`` or ``bilinear`` (half-pixel centres, as ``UpSampling2D``)."""
    h, w = x.shape[1], x.shape[2]
    return ops.image.resize(x, (2 * h, 2 * w), interpolation=interpolation)


def blur(x):
    """The fixed 3x3 binomial low-pass on every channel ('same' padding)."""
    kernel = np.repeat(BINOMIAL[:, :, None, None], x.shape[-1], axis=2)
    return ops.depthwise_conv(x, kernel, strides=1, padding="same")


class Standardize(keras.layers.Layer):
    """:func:`standardize` as a layer (per image; over the spatial axes by default)."""

    def __init__(self, axes: tuple[int, ...] = (1, 2), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axes = tuple(axes)

    def call(self, x):
        """Standardise over ``axes``."""
        return standardize(x, self.axes)

    def get_config(self) -> dict:
        """Keras layer config."""
        return {**super().get_config(), "axes": self.axes}


class Blur(keras.layers.Layer):
    """:func:`blur` as a layer (no weights: the binomial filter is part of the architecture)."""

    def call(self, x):
        """Low-pass every channel."""
        return blur(x)


def _crop(arch: Architecture, shape) -> tuple[tuple[int, int], tuple[int, int]] | None:
    rows, cols = shape[1] - arch.height, shape[2] - arch.width
    if not (rows or cols):
        return None
    return (rows // 2, rows - rows // 2), (cols // 2, cols - cols // 2)


def forward(x, kernels, arch: Architecture, upsampling: str = "bilinear", smoothing: str = "conv"):
    """The random CNN on input ``x`` (n, h, w, d) with the given kernels, through ``keras.ops``.

    Per convolution: (2x upsampling [+ blur] where a block ends) -> conv -> [blur] ->
    standardise -> ReLU; the last conv's output is cropped, standardised over H, W and C, scaled
    by :data:`OUTPUT_GAIN` and squashed by a sigmoid. ``smoothing`` is ``"conv"`` (blur after
    every convolution), ``"upsample"`` (after every upsampling) or ``"none"``.
    """
    block = 0
    for i, (kernel, conv_block) in enumerate(zip(kernels, arch.conv_blocks, strict=True)):
        while block < conv_block:
            block += 1
            x = upsample(x, upsampling)
            if smoothing == "upsample":
                x = blur(x)
        x = ops.conv(x, kernel, strides=1, padding="same")
        if smoothing == "conv":
            x = blur(x)
        if i < arch.depth - 1:
            x = ops.relu(standardize(x))
    crop = _crop(arch, x.shape)
    if crop:
        (top, bottom), (left, right) = crop
        x = x[:, top:x.shape[1] - bottom, left:x.shape[2] - right, :]
    return ops.sigmoid(standardize(x, (1, 2, 3)) * OUTPUT_GAIN)


def build_keras_model(arch: Architecture, upsampling: str = "bilinear", smoothing: str = "conv") -> keras.Model:
    """The functional Keras model computing :func:`forward`, with zero kernels.

    Layers carry stable names: ``conv2d_1`` ... ``conv2d_<depth>`` (variable paths
    ``conv2d_i/kernel``), ``up_sampling2d_j``, ``blur_*``, ``standardize_i``, ``cropping2d``,
    ``gain`` and ``sigmoid``.
    """
    inputs = keras.Input(shape=arch.input_shape, name="noise")
    x = inputs
    block = ups = 0
    for i, (out, conv_block) in enumerate(zip(arch.conv_channels, arch.conv_blocks, strict=True)):
        while block < conv_block:
            ups += 1
            block += 1
            x = keras.layers.UpSampling2D((2, 2), interpolation=upsampling, name=f"up_sampling2d_{ups}")(x)
            if smoothing == "upsample":
                x = Blur(name=f"blur_up_{ups}")(x)
        x = keras.layers.Conv2D(out, arch.kernel_size, padding="same", use_bias=False,
                                kernel_initializer="zeros", name=f"conv2d_{i + 1}")(x)
        if smoothing == "conv":
            x = Blur(name=f"blur_{i + 1}")(x)
        if i < arch.depth - 1:
            x = Standardize(name=f"standardize_{i + 1}")(x)
            x = keras.layers.ReLU(name=f"re_lu_{i + 1}")(x)
    crop = _crop(arch, x.shape)
    if crop:
        x = keras.layers.Cropping2D(crop, name="cropping2d")(x)
    x = Standardize(axes=(1, 2, 3), name=f"standardize_{arch.depth}")(x)
    x = keras.layers.Rescaling(OUTPUT_GAIN, name="gain")(x)
    outputs = keras.layers.Activation("sigmoid", name="sigmoid")(x)
    return keras.Model(inputs, outputs, name="random_cnn")


class RandomCNN(zoo_core.ZooModel):
    """A random generative CNN whose weights are a pure function of ``(config, seed)``.

    ``config`` keys: ``height``, ``width``, ``channels``, ``soph``, ``noise`` (fractions of the
    ``H*W*C*4`` uncompressed bits, or drawn when ``split`` is ``random``), ``bits_per_weight``,
    ``kernel_size``, ``upsampling``, ``smoothing``, ``split`` and ``seed``.
    """

    def __init__(self, config: Mapping[str, Any], family=None) -> None:
        from zoo_random_cnn import architecture_of, budgets

        super().__init__(config, family)
        self.budgets = budgets(self.config)
        self.architecture = architecture_of(self.config)
        self._kernels: list[np.ndarray] = []
        self._tensors: list[Any] = []
        self._keras_model = None
        self._draw_weights(int(self.config["seed"]))

    def _draw_weights(self, seed: int) -> None:
        """Draw every kernel, layer by layer, from one ``numpy.random.default_rng(seed)``."""
        rng = np.random.default_rng(seed)
        arch = self.architecture
        self._set_kernels([initializer_qlaplace(arch.bits_per_weight, scale, rng)(shape)
                           for shape, scale in zip(arch.kernel_shapes, arch.laplace_scales, strict=True)])

    def _set_kernels(self, kernels: list[np.ndarray]) -> None:
        self._kernels = [np.ascontiguousarray(k, dtype=np.float32) for k in kernels]
        self._tensors = [ops.convert_to_tensor(k) for k in self._kernels]
        if self._keras_model is not None:
            self._assign_keras_kernels()

    @property
    def keras_model(self) -> keras.Model:
        """The equivalent functional ``keras.Model`` (built on first use, kernels assigned)."""
        if self._keras_model is None:
            c = self.config
            self._keras_model = build_keras_model(self.architecture, c["upsampling"], c["smoothing"])
            self._assign_keras_kernels()
        return self._keras_model

    def _assign_keras_kernels(self) -> None:
        assert self._keras_model is not None  # called once the model is built
        for i, kernel in enumerate(self._kernels):
            self._keras_model.get_layer(f"conv2d_{i + 1}").kernel.assign(kernel)

    def noise(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` binary inputs (float32 in {0, 1}) of the input shape, from ``default_rng(seed)``."""
        rng = np.random.default_rng(seed)
        return rng.integers(0, 2, size=(n, *self.architecture.input_shape), dtype=np.uint8).astype(np.float32)

    def forward(self, inputs: np.ndarray) -> np.ndarray:
        """The network's sigmoid outputs in [0, 1], float32 ``(n, H, W, C)``, computed in chunks."""
        from zoo_core.runtime.devices import tf_device_name

        inputs = np.asarray(inputs, dtype=np.float32)
        a, c = self.architecture, self.config
        import tensorflow as tf  # Keras runs on TensorFlow here; its device placement picks the device

        with tf.device(tf_device_name(self.device)):
            out = [np.asarray(forward(ops.convert_to_tensor(inputs[i:i + CHUNK]), self._tensors, a,
                                      c["upsampling"], c["smoothing"]))
                   for i in range(0, len(inputs), CHUNK)]
        if not out:
            return np.zeros((0, a.height, a.width, a.channels), dtype=np.float32)
        return np.concatenate(out)

    def to(self, device: str) -> RandomCNN:
        """Run on a resolved device (``cpu`` or ``cuda:N``) through TensorFlow's device placement."""
        self.device = device
        return self

    def generate(self, inputs: np.ndarray) -> np.ndarray:
        """Run the network on given inputs; return the 4-bit images as uint8 ``(n, H, W, C)``."""
        return quantize_output(self.forward(inputs))

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` images from ``n`` binary inputs drawn with ``seed``; uint8 ``(n, H, W, C)``, 16 levels."""
        return self.generate(self.noise(n, seed))

    def information(self, n: int = 4, seed: int = 0, coders=None) -> dict[str, Any]:
        """The information table of ``n`` sampled images (see :mod:`zoo_random_cnn.information`)."""
        from zoo_random_cnn.information import CODERS

        a = self.architecture
        soph, noise = self.budgets
        return image_information(self.sample(n, seed), uncompressed=a.height * a.width * a.channels * 4,
                                 soph=soph, noise=noise, parameters=a.parameters,
                                 bits_per_weight=a.bits_per_weight, input_bits=a.input_bits,
                                 coders=coders or CODERS)

    def evaluate(self, data: Any = None, *, seed: int = 0, images: int = 4) -> dict[str, Any]:
        """``zoo eval``: the budgets beside the lossless coders' sizes and the model-class bound.

        ``data`` is not used: a random CNN is evaluated on its own samples (``images`` of them,
        inputs drawn with ``seed``).
        """
        return self.information(images, seed)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Kernels as float32 arrays keyed by their Keras variable path (``conv2d_1/kernel``, ...)."""
        return {f"conv2d_{i + 1}/kernel": k.copy() for i, k in enumerate(self._kernels)}

    def load_state_dict(self, tensors: Mapping[str, np.ndarray]) -> None:
        """Assign kernels from arrays keyed like :meth:`state_dict` (names and shapes already checked)."""
        self._set_kernels([np.asarray(tensors[f"conv2d_{i + 1}/kernel"], dtype=np.float32)
                           for i in range(self.architecture.depth)])

    @property
    def num_parameters(self) -> int:
        """Number of weights (no biases); equals ``architecture.parameters``."""
        return int(sum(k.size for k in self._kernels))

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(H, W, C)`` of the images, without running the network."""
        a = self.architecture
        return a.height, a.width, a.channels
