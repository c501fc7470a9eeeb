"""The seed notebook's random-CNN grid loop, kept as the speed reference of bench_random_cnn_grid.py.

This is deliberately the notebook's own code path (its ``number_of_weights``, ``depth_to_factor``,
``possible_depths``, ``adhoc_params``, ``initializer_qlaplace``, ``random_model``, ``single_image``
and the cell loop of ``multi_show``), rewritten with the image size passed in instead of read from
notebook globals. Only the plotting is left out (``multi_show`` draws each image with matplotlib;
here the image is kept in a list), and numpy's global random state is seeded once so that a run is
repeatable. It is a benchmark reference, not part of the zoo package: the plugin's own search and
network are in ``plugins/zoo_random_cnn``.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np


class Notebook:
    """The notebook's globals (image size) and functions."""

    def __init__(self, height: int = 256, width: int = 256, channels: int = 1) -> None:
        self.height, self.width, self.channels = height, width, channels
        self.uncompressed = height * width * channels * 4
        import keras

        self.keras = keras

    def number_of_weights(self, kernelsize, depth, depthfactor):
        try:
            return (kernelsize ** 2 * self.channels ** 2 * depthfactor * (depthfactor ** (2 * depth) - 1)
                    / (depthfactor ** 2 - 1))
        except OverflowError:
            return float("Infinity")

    def depth_to_factor(self, weights, kernelsize, depth):
        if kernelsize ** 2 * self.channels ** 2 * depth > weights:
            return None
        low, high = (0.0, 1.0)
        for _ in range(30):
            candidate = (low + high) / 2
            candidate_weights = self.number_of_weights(kernelsize, depth, 1 / candidate)
            if candidate_weights < weights:
                high = candidate
            else:
                low = candidate
        return 1 / high

    def possible_depths(self, noise, weights, kernelsize):
        depth = 1
        while True:
            depthfactor = self.depth_to_factor(weights, kernelsize, depth)
            if depthfactor is None:
                break
            reshapesize = np.sqrt(noise / (self.channels * depthfactor ** depth))
            if self.height >= reshapesize and self.height / 2 ** depth <= reshapesize:
                yield (depth, depthfactor, reshapesize)
            depth += 1

    def adhoc_params(self, soph, noise):
        params = SimpleNamespace(bpw=5, kernelsize=7, depth=0, numblocks=0)
        for _depth, _depthfactor, _reshapesize in self.possible_depths(noise, soph / params.bpw, params.kernelsize):
            _numblocks = 1 + np.log2(self.height / _reshapesize)
            if _numblocks >= params.numblocks:
                params.numblocks = int(_numblocks)
                params.depth = _depth
            else:
                break
        if params.numblocks == 0:
            return None
        params.blockdepth = int(np.ceil(params.depth / params.numblocks))
        params.reshapesize = self.height // 2 ** (params.numblocks - 1)
        params.reshapedepth = max(int(noise / params.reshapesize ** 2), self.channels)
        params.depthfactor = (params.reshapedepth / self.channels) ** (1 / params.depth)
        return params

    @staticmethod
    def initializer_qlaplace(bpv, scale):
        quantiles = [scale * np.log(2 * (i + 1) / (2 ** bpv + 2)) for i in range(2 ** (bpv - 1))]
        quantiles = quantiles + [0.0] + [-q for q in quantiles]

        def sample(shape, dtype=None):
            return np.random.choice(quantiles, size=shape)
        return sample

    def random_model(self, params):
        layers = self.keras.layers
        kernel = (params.kernelsize, params.kernelsize)
        x = encoded = layers.Input(shape=(params.reshapesize, params.reshapesize, params.reshapedepth))
        for block in range(params.numblocks - 1):
            initializer = self.initializer_qlaplace(params.bpw, (1 + (block + 1) / params.numblocks)
                                                    / params.kernelsize ** 2)
            for i in range(params.blockdepth):
                depth = round(params.reshapedepth / params.depthfactor ** (block * params.blockdepth + i + 1))
                x = layers.Conv2D(depth, kernel, activation="relu", padding="same", use_bias=False,
                                  kernel_initializer=initializer)(x)
            x = layers.UpSampling2D((2, 2))(x)
        initializer = self.initializer_qlaplace(params.bpw, 2 / params.kernelsize ** 2)
        for i in range((params.numblocks - 1) * params.blockdepth, params.depth):
            x = layers.Conv2D(round(params.reshapedepth / params.depthfactor ** (i + 1)),
                              kernel, activation="relu", padding="same", use_bias=False,
                              kernel_initializer=initializer)(x)
        decoded = layers.Activation("sigmoid")(x)
        return self.keras.models.Model(encoded, decoded)

    def single_image(self, model):
        noise = np.random.choice(2, (1,) + tuple(model.inputs[0].shape[1:]))
        image = model.predict(noise, batch_size=1, verbose=0)[0, ...]
        if self.channels == 1:
            image = image.reshape([self.height, self.width])
        return image

    def multi_show(self, n: int = 16, seed: int = 0) -> list:
        """The notebook's grid loop; returns the images (None where the notebook prints an error)."""
        np.random.seed(seed)
        step = (self.uncompressed - 2) // n
        images = []
        for soph in range(1, n):
            for noise in range(1, n - soph + 1):
                try:
                    images.append(self.single_image(self.random_model(self.adhoc_params(soph * step, noise * step))))
                except Exception:  # the notebook prints the exception and leaves the cell empty
                    images.append(None)
        return images
