"""The ``vae`` and ``ae`` models: Keras 3 networks on TensorFlow, behind :class:`zoo_core.LatentModel`.

This module imports Keras and TensorFlow (through :mod:`zoo_vae._backend`, which pins the
backend): it is imported only when a ``vae`` or ``ae`` model is built, never by ``zoo list``.

Both families share one trainer, :class:`AutoencoderTrainer`, a ``keras.Model`` subclass whose
``train_step`` records the forward pass on a ``tf.GradientTape`` and keeps three
``keras.metrics.Mean`` trackers named ``total_loss``, ``reco_loss`` and ``kl_loss``. The
results are returned under exactly those names (the keras.io example returns its total under
``loss``, a name no tracker has, and its printed total then is not the sum of its parts).
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any, Mapping

import numpy as np

from zoo_core.datasets import load_dataset
from zoo_core.errors import ConfigError, ZooError
from zoo_core.distributed import current_world
from zoo_core.model import LatentModel, to_uint8
from zoo_vae import stage_strides
from zoo_vae._backend import keras, tf
from zoo_vae.training import STEPS_PER_CALL, AutoencoderSession, compile_chunk, strategy_for  # noqa: F401

EVAL_IMAGES = 2000


# ---------------------------------------------------------------------------------------------
# Networks


def _initializer(activation: str, seed: int):
    """LeCun-normal for SELU (self-normalising nets need it), Glorot-uniform otherwise; seeded."""
    if activation == "selu":
        return keras.initializers.LecunNormal(seed=seed)
    return keras.initializers.GlorotUniform(seed=seed)


def _activation(name: str, layer_name: str):
    if name == "leaky_relu":
        return keras.layers.LeakyReLU(negative_slope=0.2, name=layer_name)
    return keras.layers.Activation(name, name=layer_name)


def _dropout(rate: float, activation: str, seed: int, name: str):
    # SELU keeps activations at zero mean / unit variance; plain dropout would break that, so
    # SELU gets AlphaDropout, which drops to the SELU saturation value and rescales.
    if activation == "selu":
        return keras.layers.AlphaDropout(rate, seed=seed, name=name)
    return keras.layers.Dropout(rate, seed=seed, name=name)


def build_conv_vae(config: Mapping[str, Any]) -> tuple[keras.Model, keras.Model]:
    """The ``vae`` encoder ``x -> [mu, log_var]`` and decoder ``z -> x`` (sigmoid pixels).

    Encoder: per layer Conv2D(filters, kernel, stride, 'same') [-> BatchNorm] -> activation
    [-> dropout], then Flatten and two Dense heads. Decoder: Dense -> Reshape to the encoder's
    last feature map -> Conv2DTranspose layers mirroring the encoder (filters reversed, ending
    with ``channels``) -> sigmoid. Every layer has a fixed name, so variable paths (the
    safetensors keys) are the same in every process.
    """
    size, channels, z_dim = config["image_size"], config["channels"], config["z_dim"]
    filters, kernels, strides = config["filters"], config["kernel_sizes"], stage_strides(config)
    act, bn, rate, seed = config["activation"], config["batch_norm"], config["dropout"], config["seed"]

    inputs = keras.Input((size, size, channels), name="images")
    x = inputs
    for i, (f, k, s) in enumerate(zip(filters, kernels, strides)):
        x = keras.layers.Conv2D(f, k, strides=s, padding="same", kernel_initializer=_initializer(act, seed + i),
                                name=f"enc_conv{i}")(x)
        if bn:
            x = keras.layers.BatchNormalization(name=f"enc_bn{i}")(x)
        x = _activation(act, f"enc_act{i}")(x)
        if rate > 0:
            x = _dropout(rate, act, seed + 100 + i, f"enc_drop{i}")(x)
    feature_shape = tuple(int(d) for d in x.shape[1:])
    x = keras.layers.Flatten(name="enc_flatten")(x)
    mu = keras.layers.Dense(z_dim, kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 200),
                            name="mu")(x)
    log_var = keras.layers.Dense(z_dim, kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 201),
                                 name="log_var")(x)
    encoder = keras.Model(inputs, [mu, log_var], name="encoder")

    latent = keras.Input((z_dim,), name="z")
    y = keras.layers.Dense(int(np.prod(feature_shape)), kernel_initializer=_initializer(act, seed + 300),
                           name="dec_dense")(latent)
    y = keras.layers.Reshape(feature_shape, name="dec_reshape")(y)
    outs = list(reversed(filters[:-1])) + [channels]
    for i, (f, k, s) in enumerate(zip(outs, reversed(kernels), reversed(strides))):
        last = i == len(outs) - 1
        y = keras.layers.Conv2DTranspose(f, k, strides=s, padding="same",
                                         kernel_initializer=_initializer("relu" if last else act, seed + 400 + i),
                                         name=f"dec_convt{i}")(y)
        if last:
            y = keras.layers.Activation("sigmoid", name="dec_sigmoid")(y)
            break
        if bn:
            y = keras.layers.BatchNormalization(name=f"dec_bn{i}")(y)
        y = _activation(act, f"dec_act{i}")(y)
        if rate > 0:
            y = _dropout(rate, act, seed + 500 + i, f"dec_drop{i}")(y)
    decoder = keras.Model(latent, y, name="decoder")
    if tuple(decoder.output.shape[1:]) != (size, size, channels):  # guarded by the config check
        raise ConfigError(f"decoder output {tuple(decoder.output.shape[1:])} != image shape {(size, size, channels)}")
    return encoder, decoder


def build_dense_ae(config: Mapping[str, Any]) -> tuple[keras.Model, keras.Model]:
    """The ``ae`` encoder ``x -> code`` and decoder ``code -> x``: Dense layers only.

    With the defaults this is the network of the lecture notes: 784 pixels -> Dense(30, relu)
    -> Dense(784). The output uses a sigmoid (the notes use relu) so pixels stay in [0, 1].
    """
    size, channels, z_dim = config["image_size"], config["channels"], config["z_dim"]
    act, seed = config["activation"], config["seed"]
    pixels = size * size * channels
    inputs = keras.Input((size, size, channels), name="images")
    x = keras.layers.Flatten(name="enc_flatten")(inputs)
    for i, width in enumerate(config["hidden"]):
        x = keras.layers.Dense(width, activation=act, kernel_initializer=_initializer(act, seed + i),
                               name=f"enc_dense{i}")(x)
    code = keras.layers.Dense(z_dim, activation=act, kernel_initializer=_initializer(act, seed + 100), name="code")(x)
    encoder = keras.Model(inputs, code, name="encoder")

    latent = keras.Input((z_dim,), name="z")
    y = latent
    for i, width in enumerate(reversed(config["hidden"])):
        y = keras.layers.Dense(width, activation=act, kernel_initializer=_initializer(act, seed + 200 + i),
                               name=f"dec_dense{i}")(y)
    y = keras.layers.Dense(pixels, activation="sigmoid", kernel_initializer=_initializer("relu", seed + 300),
                           name="dec_out")(y)
    y = keras.layers.Reshape((size, size, channels), name="dec_reshape")(y)
    decoder = keras.Model(latent, y, name="decoder")
    return encoder, decoder


# ---------------------------------------------------------------------------------------------
# The trainer: a keras.Model whose train_step uses tf.GradientTape


def reconstruction_loss(x, x_hat, kind: str):
    """Per-image reconstruction loss, summed over pixels and channels: ``bce`` or ``mse``."""
    if kind == "bce":
        eps = 1e-7
        x_hat = tf.clip_by_value(x_hat, eps, 1.0 - eps)
        per_pixel = -(x * tf.math.log(x_hat) + (1.0 - x) * tf.math.log(1.0 - x_hat))
    else:
        per_pixel = tf.square(x - x_hat)
    return tf.reduce_sum(per_pixel, axis=[1, 2, 3])


def kl_divergence(mu, log_var):
    """Per-image KL(N(mu, exp(log_var)) || N(0, 1)), summed over latent dimensions."""
    return -0.5 * tf.reduce_sum(1.0 + log_var - tf.square(mu) - tf.exp(log_var), axis=1)


class AutoencoderTrainer(keras.Model):
    """Encoder + decoder with a custom ``train_step``: total = reco + fact * KL (KL only if variational).

    ``reco_loss`` is the reconstruction loss summed over pixels and averaged over the batch;
    ``kl_loss`` is ``fact`` times the KL divergence averaged over the batch (0 for the plain
    autoencoder); ``total_loss`` is their sum, and it is the quantity differentiated.
    """

    def __init__(self, encoder: keras.Model, decoder: keras.Model, *, variational: bool, fact: float,
                 loss: str, seed: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.variational = variational
        self.fact = float(fact)
        self.loss_kind = loss
        self.noise = keras.random.SeedGenerator(seed, name="noise")
        self.distribute_scale = tf.distribute.has_strategy()
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
        self.reco_loss_tracker = keras.metrics.Mean(name="reco_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    @property
    def metrics(self):
        """The three trackers, so Keras resets them at each epoch of ``fit``."""
        return [self.total_loss_tracker, self.reco_loss_tracker, self.kl_loss_tracker]

    def encode(self, x, training: bool = False):
        """``(z, mu, log_var)``; for the plain autoencoder ``z = mu = code`` and ``log_var = None``."""
        if not self.variational:
            code = self.encoder(x, training=training)
            return code, code, None
        mu, log_var = self.encoder(x, training=training)
        # Reparameterisation: z = mu + sigma * eps with eps ~ N(0, 1) drawn outside the
        # parameters, so gradients flow through mu and log_var.
        eps = keras.random.normal(tf.shape(mu), seed=self.noise)
        return mu + tf.exp(0.5 * log_var) * eps, mu, log_var

    def call(self, x, training: bool = False):
        """Reconstruct ``x`` (a posterior sample for the VAE)."""
        z, _, _ = self.encode(x, training=training)
        return self.decoder(z, training=training)

    def compute_losses(self, x, training: bool = False):
        """``(reco_loss, kl_loss)`` averaged over the batch; ``kl_loss`` already includes ``fact``."""
        z, mu, log_var = self.encode(x, training=training)
        x_hat = self.decoder(z, training=training)
        reco = tf.reduce_mean(reconstruction_loss(x, x_hat, self.loss_kind))
        if log_var is None:
            kl = tf.zeros_like(reco)
        else:
            kl = self.fact * tf.reduce_mean(kl_divergence(mu, log_var))
        return reco, kl

    def train_step(self, data):
        """One optimisation step on a batch of float images in [0, 1]; returns the tracker results."""
        x = data[0] if isinstance(data, (tuple, list)) else data
        with tf.GradientTape() as tape:
            reco, kl = self.compute_losses(x, training=True)
            total = reco + kl
            # Under a tf.distribute strategy the optimizer sums the replicas' gradients: scale each
            # replica's loss by 1/replicas so the update is that of the global batch's mean.
            scaled = total / tf.distribute.get_strategy().num_replicas_in_sync if self.distribute_scale else total
        grads = tape.gradient(scaled, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.total_loss_tracker.update_state(total)
        self.reco_loss_tracker.update_state(reco)
        self.kl_loss_tracker.update_state(kl)
        return {m.name: m.result() for m in self.metrics}


# ---------------------------------------------------------------------------------------------
# The zoo models


class _KerasAutoencoder(LatentModel):
    """Shared zoo behaviour of ``vae`` and ``ae``: weights, training loop, checkpoints, evaluation."""

    variational = True

    def __init__(self, config: Mapping[str, Any], family=None) -> None:
        super().__init__(config, family)
        self.latent_size = int(self.config["z_dim"])
        self.strategy = strategy_for(current_world())
        with self.strategy.scope() if self.strategy is not None else nullcontext():
            self._build_trainer()
        self._train_fn = None
        self._train_images = None
        self._decode_fn = None
        self._encode_fn = None

    def _build_trainer(self) -> None:
        encoder, decoder = self._build_networks()
        self.trainer = AutoencoderTrainer(encoder, decoder, variational=self.variational,
                                          fact=float(self.config.get("fact", 0.0)), loss=self.config["loss"],
                                          seed=int(self.config["seed"]), name=self.family_name)
        self.trainer.compile(optimizer=keras.optimizers.Adam(learning_rate=self.config["lr"]),
                             jit_compile=bool(self.config["jit_compile"]))
        # Create Adam's slots now: variables must not first appear inside the compiled step.
        self.trainer.optimizer.build(self.trainer.trainable_variables)

    def _build_networks(self):  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def encoder(self) -> keras.Model:
        """The Keras encoder."""
        return self.trainer.encoder

    @property
    def decoder(self) -> keras.Model:
        """The Keras decoder (``z -> images`` in [0, 1])."""
        return self.trainer.decoder

    def keras_models(self) -> dict:
        """Networks that ``zoo layers`` / ``zoo visualize`` inspect (see zoo_core.layers)."""
        return {"encoder": self.encoder}

    # -- weights ---------------------------------------------------------------------------------

    def _variables(self) -> list:
        # ``weights`` (trainable + BatchNorm statistics), not ``variables``: the latter also
        # holds the dropout layers' random-seed states, which are not part of the model.
        return list(self.encoder.weights) + list(self.decoder.weights)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Every encoder and decoder variable (BatchNorm statistics included), keyed by ``variable.path``."""
        out: dict[str, np.ndarray] = {}
        for var in self._variables():
            if var.path in out:
                raise ZooError(f"two variables share the path {var.path!r}; layer names must be unique")
            out[var.path] = np.array(var.numpy())
        return out

    def load_state_dict(self, tensors: Mapping[str, np.ndarray]) -> None:
        """Assign arrays (already checked by name, shape and dtype) to the variables of the same path."""
        for var in self._variables():
            var.assign(tensors[var.path])

    # -- sampling --------------------------------------------------------------------------------

    def decode(self, latents: np.ndarray) -> np.ndarray:
        """Decode latent vectors ``(n, z_dim)`` into ``uint8 (n, H, W, C)`` images."""
        latents = np.asarray(latents, dtype=np.float32)
        if latents.ndim != 2 or latents.shape[1] != self.latent_size:
            raise ZooError(f"latents must have shape (n, {self.latent_size}), got {latents.shape}")
        if self._decode_fn is None:
            self._decode_fn = tf.function(lambda z: self.decoder(z, training=False), reduce_retracing=True)
        parts = [self._decode_fn(tf.constant(latents[i:i + 256])).numpy() for i in range(0, len(latents), 256)]
        return to_uint8(np.concatenate(parts) if parts else np.zeros((0, *self._image_shape()), np.float32))

    def encode(self, images: np.ndarray) -> np.ndarray:
        """Posterior means (the codes, for ``ae``) of ``uint8`` images, ``float32 (n, z_dim)``."""
        x = self._as_float(images)
        if self._encode_fn is None:
            self._encode_fn = tf.function(lambda b: self.trainer.encode(b, training=False)[1], reduce_retracing=True)
        return np.concatenate([self._encode_fn(tf.constant(x[i:i + 256])).numpy() for i in range(0, len(x), 256)])

    def reconstruct(self, images: np.ndarray) -> np.ndarray:
        """Encode to the posterior mean and decode: ``uint8`` in, ``uint8`` out, same shape."""
        return self.decode(self.encode(images))

    def _image_shape(self) -> tuple[int, int, int]:
        return (self.config["image_size"], self.config["image_size"], self.config["channels"])

    def _as_float(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images)
        if images.shape[1:] != self._image_shape():
            raise ZooError(f"images of shape {images.shape[1:]} do not fit the model ({self._image_shape()}); "
                           f"resize them or build the model with image_size/channels to match")
        return images.astype(np.float32) / 255.0

    # -- data ------------------------------------------------------------------------------------

    def images_for(self, data: Any, split: str, n: int | None = None) -> np.ndarray:
        """Images from a spec/path/array (None: the config's dataset), resized to the model's shape."""
        spec = self.config["dataset"] if data is None else data
        if not isinstance(spec, np.ndarray):
            spec = str(spec)
        images, _ = load_dataset(spec, split, n=n, size=self.config["image_size"],
                                 channels=self.config["channels"])
        return images

    # -- training --------------------------------------------------------------------------------

    def training_session(self, data: Any, steps: int, ctx: Any) -> AutoencoderSession:
        """The VAE / AE algorithm for :func:`zoo_core.runtime.fit` (``model.train`` / ``zoo train``).

        :param data: a dataset spec or path (``zoo_core.datasets.load_dataset``), a uint8/float
            image array, or None for the config's ``dataset``; its ``train`` split is used.

        Adam at ``lr``; each step's logs are ``total_loss``, ``reco_loss``, ``kl_loss`` (batch
        means; total is exactly reco + kl in float32).
        """
        return AutoencoderSession(self, data, steps, ctx)

    def training_images(self, data: Any) -> np.ndarray:
        """The ``train`` split of ``data`` as uint8 images of the model's shape, cached per source."""
        key = ("array", id(data)) if isinstance(data, np.ndarray) else ("spec", str(data))
        if self._train_images is None or self._train_images[0] != key:
            self._train_images = (key, self.images_for(data, "train"))
        return self._train_images[1]

    def compiled_chunk(self):
        """The compiled multi-step training loop (built once per model, reused by every run)."""
        if self._train_fn is None:
            self._train_fn = compile_chunk(self.trainer, self.strategy, bool(self.config["jit_compile"]))
        return self._train_fn

    def device_scope(self):
        """TensorFlow device placement for this model's device."""
        from zoo_core.devices import tf_device_name

        return tf.device(tf_device_name(self.device))

    def to(self, device: str) -> "_KerasAutoencoder":
        """Run on a resolved device (``cpu`` or ``cuda:N``) through TensorFlow's device placement."""
        self.device = device
        return self

    # -- evaluation ------------------------------------------------------------------------------

    def evaluate(self, data: Any = None, *, seed: int = 0) -> dict[str, Any]:
        """Held-out metrics (the ``test`` split of ``data``, default the config's dataset).

        Per image: ``reco_loss`` (the training loss kind, summed over pixels), ``bce`` and
        ``mse_per_pixel`` (comparable across models), ``kl`` (nats, unweighted), ``neg_elbo``
        (``bce + kl``: the negative ELBO in nats under a Bernoulli decoder, one posterior sample),
        code statistics, and how close prior samples come to real images: ``prior_nn_mse`` is the
        mean squared distance from each of 256 decoded N(0, 1) draws to its nearest held-out
        image, ``heldout_nn_mse`` the same for held-out images among themselves (the scale of
        "looks like data").
        """
        images = self.images_for(data, "test")[:EVAL_IMAGES]
        x = images.astype(np.float32) / 255.0
        rng = np.random.default_rng(seed)
        reco, bce, sq, kl, codes = [], [], [], [], []
        for i in range(0, len(x), 256):
            xb = tf.constant(x[i:i + 256])
            if self.variational:
                mu, log_var = self.encoder(xb, training=False)
                eps = rng.standard_normal(mu.shape).astype(np.float32)
                z = mu + tf.exp(0.5 * log_var) * eps
                kl.append(kl_divergence(mu, log_var).numpy())
            else:
                mu = z = self.encoder(xb, training=False)
            x_hat = self.decoder(z, training=False)
            reco.append(reconstruction_loss(xb, x_hat, self.config["loss"]).numpy())
            bce.append(reconstruction_loss(xb, x_hat, "bce").numpy())
            sq.append(reconstruction_loss(xb, x_hat, "mse").numpy())
            codes.append(np.asarray(mu))
        reco_v, bce_v, sq_v, codes_v = (np.concatenate(a) for a in (reco, bce, sq, codes))
        pixels = int(np.prod(self._image_shape()))
        out: dict[str, Any] = {"images": int(len(x)), "reco_loss": float(reco_v.mean()), "bce": float(bce_v.mean()),
                               "mse_per_pixel": float(sq_v.mean() / pixels)}
        if self.variational:
            kl_v = np.concatenate(kl)
            out.update({"kl": float(kl_v.mean()), "kl_loss": float(self.config["fact"] * kl_v.mean()),
                        "total_loss": float(reco_v.mean() + self.config["fact"] * kl_v.mean()),
                        "neg_elbo": float(bce_v.mean() + kl_v.mean())})
        else:
            out["total_loss"] = float(reco_v.mean())
        out.update({"code_mean": float(codes_v.mean()), "code_std": float(codes_v.std())})
        samples = self.sample(256, seed=seed).astype(np.float32).reshape(256, -1) / 255.0
        flat = x.reshape(len(x), -1)
        out["prior_nn_mse"] = float(_nearest_sq(samples, flat).mean() / pixels)
        half = len(flat) // 2
        if half:
            out["heldout_nn_mse"] = float(_nearest_sq(flat[:min(half, 256)], flat[half:]).mean() / pixels)
        return out


def _nearest_sq(queries: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """Squared L2 distance from each query row to its nearest row of ``pool``."""
    d = (queries ** 2).sum(1)[:, None] - 2.0 * queries @ pool.T + (pool ** 2).sum(1)[None, :]
    return np.maximum(d.min(axis=1), 0.0)


class ConvVAE(_KerasAutoencoder):
    """The ``vae`` family: convolutional VAE, sampled by decoding z ~ N(0, 1)."""

    variational = True

    def _build_networks(self):
        return build_conv_vae(self.config)


class DenseAE(_KerasAutoencoder):
    """The ``ae`` family: the plain dense autoencoder; decoding N(0, 1) codes shows why it is no generator."""

    variational = False

    def _build_networks(self):
        return build_dense_ae(self.config)
