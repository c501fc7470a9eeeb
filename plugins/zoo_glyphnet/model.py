"""The glyphnet model: generator + noise channel + decoder behind zoo's LatentModel interface."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

# torch is imported here, not in the package __init__, so that `zoo list` never loads it; this
# module is imported only when a glyphnet model is built (Family.factory).
import torch

from zoo_core.errors import ZooError
from zoo_core.model import LatentModel
from zoo_glyphnet.channel import NoiseChannel
from zoo_glyphnet.networks import build_networks
from zoo_glyphnet.training import GlyphNetSession, check_no_data, splitmix64

#: numpy seed-sequence word that keeps evaluation messages apart from training ones
EVAL_STREAM = 0x6576616C  # "eval"
#: glyphs the measures of issue #29 are computed on (``zoo sample NAME -n 200 --seed S+1``)
MEASURE_GLYPHS = 200
_DECODE_BATCH = 512
#: messages a strokes generator draws at once (see :meth:`GlyphNet.decode`)
_STROKE_ROWS = 64


class GlyphNet(LatentModel):
    """Inverted auto-encoder: message -> glyph image -> noisy channel -> message.

    The latent is the message (``msg_size`` floats from N(0, 1)); :meth:`decode` draws the glyphs.
    Weights are initialised from ``config["seed"]`` without touching torch's global RNG.
    """

    def __init__(self, config: Mapping[str, Any], family: Any = None) -> None:
        super().__init__(config, family)
        self.latent_size = int(self.config["msg_size"])
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.config["seed"])
            self.generator, self.decoder = build_networks(self.config)
        # channels-last lets oneDNN pick faster convolution kernels on CPU (about 1.6x per training
        # step here); values are unchanged, state_dict() still returns plain C-order arrays.
        self.generator.to(memory_format=torch.channels_last)
        self.decoder.to(memory_format=torch.channels_last)
        self.generator.eval()
        self.decoder.eval()
        self.channel = NoiseChannel.from_config(self.config)

    # -- torch-side helpers ----------------------------------------------------------------------

    def parameters(self) -> Iterator[torch.nn.Parameter]:
        """Trainable parameters: the generator's, then the decoder's."""
        yield from self.generator.parameters()
        yield from self.decoder.parameters()

    def torch_modules(self) -> dict:
        """Networks that ``zoo layers`` / ``zoo visualize`` inspect: {name: (module, (C, H, W))}."""
        c, s = self.config["channels"], self.config["image_size"]
        return {"decoder": (self.decoder, (c, s, s))}

    # -- the zoo interface -----------------------------------------------------------------------

    def decode(self, latents: np.ndarray) -> np.ndarray:
        """Glyphs for the given messages ``(n, msg_size)``, as ``uint8 (n, S, S, channels)``.

        The generator runs in eval mode (BatchNorm uses its running statistics), so each image
        depends only on its own message. A strokes generator draws in blocks of exactly
        ``_STROKE_ROWS`` messages (the last block padded with zeros): its matrix products and
        rasteriser round differently for different batch sizes (1 grey level in a few pixels), and
        a fixed block keeps ``sample(m) == sample(n)[:m]``.
        """
        latents = np.asarray(latents, dtype=np.float32)
        if latents.ndim != 2 or latents.shape[1] != self.latent_size:
            raise ZooError(f"glyphnet decode expects latents of shape (n, {self.latent_size}), got {latents.shape}")
        self.generator.eval()
        s, c = self.config["image_size"], self.config["channels"]
        out = np.empty((latents.shape[0], s, s, c), dtype=np.uint8)
        block = _STROKE_ROWS if self.config.get("generator", "conv") == "strokes" else _DECODE_BATCH
        with torch.inference_mode():
            for i in range(0, latents.shape[0], block):
                rows = latents[i:i + block]
                if block == _STROKE_ROWS and len(rows) < block:
                    rows = np.concatenate([rows, np.zeros((block - len(rows), rows.shape[1]), np.float32)])
                images = self._draw(torch.from_numpy(rows).to(self.device))[:latents.shape[0] - i]
                # to_uint8 in torch, in place: the same float32 arithmetic (x * 255, round half to
                # even, clip), but threaded and without numpy's temporary copies of the batch
                pixels = images.mul_(255.0).round_().clamp_(0.0, 255.0).to(torch.uint8)
                out[i:i + block] = pixels.permute(0, 2, 3, 1).cpu().numpy()
        return out

    def _paths(self, messages: torch.Tensor) -> dict:
        """A strokes generator's vector form, its MLP on one CPU thread.

        With two threads the MLP's matrix products split the batch between threads, and on this
        project's machine now and then one half came out in another summation order (up to 4e-5
        in a control point, in about 1 process in 10: another golden sample). One thread has one
        order; the MLP is a small share of drawing a glyph, the rasteriser keeps every thread.
        """
        if messages.device.type != "cpu":
            return self.generator.paths(messages)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return self.generator.paths(messages)
        finally:
            torch.set_num_threads(threads)

    def _draw(self, messages: torch.Tensor) -> torch.Tensor:
        """The generator's images for ``messages`` (eval mode), a strokes generator's paths via :meth:`_paths`."""
        if self.config.get("generator", "conv") != "strokes":
            return self.generator(messages)
        return self.generator.render(self._paths(messages))

    def sample_svg(self, n: int, seed: int = 0) -> str:
        """The glyphs of :meth:`sample` as one SVG document (``generator = "strokes"`` models only).

        One ``<symbol id="glyph-i">`` per message, in the image's coordinates (``viewBox`` -1..1):
        a black square, then every curve as a quadratic Bezier ``<path>`` with round caps, its
        stroke twice the curve's half-width and its colour the curve's intensity (times its colour).
        These are the paths, widths and intensities the raster draws (the raster also softens the
        edges over half a pixel); the faintest curves come first, so at a crossing the brighter one
        is on top, as in the raster (which keeps the largest value). The symbols are laid out in a
        grid with ``<use>``.
        """
        if self.config.get("generator", "conv") != "strokes":
            raise ZooError("this glyphnet model draws pixels (generator 'conv'): it has no SVG form; "
                           "write .png, .npy or .npz")
        latents = self.sample_latent(n, seed)
        self.generator.eval()
        with torch.inference_mode():
            paths = {k: v.cpu().numpy() for k, v in
                     self._paths(torch.from_numpy(latents).to(self.device)).items()}
        return svg_document(paths, self.config["image_size"])

    def training_session(self, data: Any, steps: int, ctx: Any) -> GlyphNetSession:
        """glyphnet's algorithm for :func:`zoo_core.runtime.fit` (``model.train`` / ``zoo train``).

        :param data: must be None: glyphnet makes up its own messages.

        Each step draws ``batch_size`` messages from N(0, 1) and channel randomness from a
        generator seeded by (seed, step); the loss is the MSE between message and decoded
        message; Adam, learning rate ``lr`` with the config's ``schedule`` over the run's steps.
        History key: ``loss``.
        """
        check_no_data(data)
        return GlyphNetSession(self, steps, ctx)

    def to(self, device: str) -> GlyphNet:
        """Move generator and decoder to a resolved torch device (``cpu``, ``cuda:N``, ``mps``)."""
        self.generator.to(device)
        self.decoder.to(device)
        self.device = device
        return self

    # -- messages ----------------------------------------------------------------------------------

    @property
    def message_mode(self) -> str:
        """``continuous`` (N(0, 1) floats), ``onehot`` (one of K = msg_size symbols) or ``binary`` (B bits)."""
        return self.config.get("message", "continuous")

    def sample_latent(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` messages from the prior, float32 ``(n, msg_size)``.

        continuous: N(0, 1); onehot: one-hot vectors of uniformly drawn symbols; binary: uniformly
        drawn bit strings written as +-1 (what the generator reads).
        """
        rng = np.random.default_rng(seed)
        if self.message_mode == "continuous":
            return rng.standard_normal((n, self.latent_size)).astype(np.float32)
        if self.message_mode == "onehot":
            return self.encode_symbols(rng.integers(0, self.latent_size, n))
        return (2.0 * rng.integers(0, 2, (n, self.latent_size)) - 1.0).astype(np.float32)

    def encode_symbols(self, symbols: np.ndarray) -> np.ndarray:
        """onehot models: the messages ``(n, K)`` of symbol indices ``(n,)``."""
        if self.message_mode != "onehot":
            raise ZooError(f"symbols need message 'onehot'; this model's message is {self.message_mode!r}")
        symbols = np.asarray(symbols, dtype=np.int64)
        if symbols.ndim != 1 or (symbols.size and (symbols.min() < 0 or symbols.max() >= self.latent_size)):
            raise ZooError(f"symbols must be indices in 0..{self.latent_size - 1}")
        out = np.zeros((symbols.shape[0], self.latent_size), dtype=np.float32)
        out[np.arange(symbols.shape[0]), symbols] = 1.0
        return out

    def _eval_messages(self, messages: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng([EVAL_STREAM, int(seed)])
        if self.message_mode == "onehot":  # every symbol equally often (as far as messages allows)
            return self.encode_symbols(rng.permutation(np.arange(messages) % self.latent_size))
        if self.message_mode == "binary":
            return (2.0 * rng.integers(0, 2, (messages, self.latent_size)) - 1.0).astype(np.float32)
        return rng.standard_normal((messages, self.latent_size)).astype(np.float32)

    # -- evaluation ----------------------------------------------------------------------------------

    def evaluate(self, data: Any = None, *, seed: int = 0, messages: int = 1000,
                 channel: Any = "post", glyphs: int = MEASURE_GLYPHS) -> dict[str, Any]:
        """Message recovery on held-out messages, and how glyph-like the glyphs are.

        The ``messages`` messages come from numpy's generator seeded ``[EVAL_STREAM, seed]``, a
        stream training never uses (training draws from torch generators keyed by step); the
        channel's randomness is seeded from ``seed`` too, so results are repeatable. Both networks
        run in eval mode.

        :param channel: ``"post"`` (default): the post's exact channel (``NoiseChannel.post()``),
            whatever the model trained through; ``"model"``: the model's own training channel; or
            a :class:`~zoo_glyphnet.channel.NoiseChannel`.
        :return: continuous messages: ``cosine_clean``, ``cosine_channel`` (mean cosine similarity
            between each message and its reconstruction), ``mse_clean``, ``mse_channel``; onehot
            and binary: ``accuracy_clean``, ``accuracy_channel`` (whole symbols read back),
            onehot also ``worst_symbol_accuracy_channel``, binary also ``bit_accuracy_*``. Always
            the glyph measures ``periodicity``, ``lattice``, ``largest_component``, ``frame_ink``
            and ``ink`` (:func:`zoo_glyphnet.metrics.glyph_measures`) of the ``glyphs`` glyphs
            ``sample(glyphs, seed=seed + 1)`` draws, i.e. ``zoo sample NAME -n 200 --seed 1`` for
            the default seed; the duplicate guards ``hamming_ratio`` and ``mean_correlation`` (of
            the ``messages`` glyphs binarised at 0.5: :func:`zoo_glyphnet.metrics.glyph_statistics`);
            ``messages`` and ``channel`` (a description). A model trained through another channel than the post's
            also reports ``cosine_train_channel`` / ``mse_train_channel`` (or
            ``accuracy_train_channel``) through its own.
        """
        if data is not None:
            raise ZooError("glyphnet evaluates on random messages and takes no --data")
        from zoo_glyphnet.channel import NoiseChannel, describe
        from zoo_glyphnet.metrics import binarise, glyph_measures, glyph_statistics

        if channel == "post":
            channel = NoiseChannel.post()
        elif channel == "model":
            channel = self.channel
        elif not isinstance(channel, NoiseChannel):
            raise ZooError(f"channel must be 'post', 'model' or a NoiseChannel, not {channel!r}")
        channels = {"channel": channel}
        if describe(self.channel) != describe(channel):
            channels["train_channel"] = self.channel
        msgs = self._eval_messages(int(messages), seed)
        self.generator.eval()
        self.decoder.eval()
        received: dict[str, list] = {"clean": [], **{key: [] for key in channels}}
        inked = []
        with torch.inference_mode():
            for key, chan in channels.items():  # each channel's draws from its own seeded stream
                gen = torch.Generator().manual_seed(splitmix64(EVAL_STREAM ^ int(seed)) >> 1)
                for i in range(0, len(msgs), 250):
                    images = self.generator(torch.from_numpy(msgs[i:i + 250]).to(self.device))
                    received[key].append(self.decoder(chan(images, generator=gen)).float().cpu())
                    if key == "channel":
                        received["clean"].append(self.decoder(images).float().cpu())
                        inked.append(binarise(images.float().cpu().numpy()))
        m = torch.from_numpy(msgs)
        result: dict[str, Any] = {}
        for key in received:
            out = torch.cat(received[key])
            result.update(self._recovery(out, m, key))
        stats = glyph_statistics(np.concatenate(inked))
        result.update(glyph_measures(self.sample(int(glyphs), seed=int(seed) + 1)))
        result.update(hamming_ratio=stats["hamming_ratio"], mean_correlation=stats["mean_correlation"],
                      messages=int(messages), channel=describe(channel))
        return result

    def _recovery(self, out: torch.Tensor, msgs: torch.Tensor, key: str) -> dict[str, float]:
        """Recovery figures of decoder outputs ``out`` for messages ``msgs``, suffixed ``_key``."""
        mode = self.message_mode
        if mode == "continuous":
            return {f"cosine_{key}": float(torch.nn.functional.cosine_similarity(out, msgs, dim=1).mean()),
                    f"mse_{key}": float(((out - msgs) ** 2).mean())}
        if mode == "onehot":
            truth = msgs.argmax(dim=1)
            right = (out.argmax(dim=1) == truth).double()
            figures = {f"accuracy_{key}": float(right.mean())}
            if key == "channel":
                per_symbol = torch.zeros(self.latent_size, dtype=torch.float64).index_add_(0, truth, right)
                seen = torch.bincount(truth, minlength=self.latent_size).double()
                figures["worst_symbol_accuracy_channel"] = float((per_symbol[seen > 0] / seen[seen > 0]).min())
            return figures
        bits = (out > 0) == (msgs > 0)
        return {f"accuracy_{key}": float(bits.all(dim=1).double().mean()),
                f"bit_accuracy_{key}": float(bits.double().mean())}

    def state_dict(self) -> dict[str, np.ndarray]:
        """``generator.*`` and ``decoder.*`` tensors (BatchNorm buffers included) as numpy copies.

        Scalar buffers (BatchNorm's ``num_batches_tracked``) are stored with shape ``(1,)``:
        ``zoo_core.io.weights.save_tensors`` writes 0-d arrays as 1-d ones, so this keeps the saved
        file and the state dict identical.
        """
        out = {}
        for prefix, module in (("generator", self.generator), ("decoder", self.decoder)):
            for name, tensor in module.state_dict().items():
                out[f"{prefix}.{name}"] = tensor.detach().cpu().numpy().reshape(tensor.shape or (1,)).copy()
        return out

    def load_state_dict(self, tensors: Mapping[str, np.ndarray]) -> None:
        """Copy checked arrays (names as in :meth:`state_dict`) into the networks."""
        for prefix, module in (("generator", self.generator), ("decoder", self.decoder)):
            own = module.state_dict()
            part = {}
            for name, value in tensors.items():
                if name.startswith(prefix + "."):
                    key = name[len(prefix) + 1:]
                    shape = own[key].shape if key in own else np.shape(value)
                    part[key] = torch.from_numpy(np.array(value, copy=True).reshape(shape))
            module.load_state_dict(part, strict=True)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(S, S, channels)``, from the config (no sampling needed)."""
        s = self.config["image_size"]
        return (s, s, self.config["channels"])


def svg_document(paths: Mapping[str, np.ndarray], image_size: int) -> str:
    """An SVG document of glyphs in vector form (:meth:`StrokeGenerator.paths` as numpy arrays)."""
    control, width, intensity, colour = paths["control"], paths["width"], paths["intensity"], paths["colour"]
    n, strokes, _, _ = control.shape
    segments = width.shape[2]
    cols = max(1, int(np.ceil(np.sqrt(n))))
    rows = -(-n // cols)
    side = image_size
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
           f'width="{cols * side}" height="{rows * side}" viewBox="0 0 {cols * side} {rows * side}">', "<defs>"]
    for i in range(n):
        out.append(f'<symbol id="glyph-{i}" viewBox="-1 -1 2 2">')
        out.append('<rect x="-1" y="-1" width="2" height="2" fill="#000"/>')
        # faintest first: at a crossing the brighter curve is on top, as the raster's max over curves
        order = sorted((intensity[i, s, k], s, k) for s in range(strokes) for k in range(segments))
        for _, s, k in order:
            (x0, y0), (x1, y1), (x2, y2) = control[i, s, 2 * k:2 * k + 3]
            rgb = np.clip(np.rint(colour[i, s, k] * intensity[i, s, k] * 255.0), 0, 255).astype(int)
            rgb = np.broadcast_to(rgb, (3,))
            out.append(f'<path d="M{x0:.4f} {y0:.4f}Q{x1:.4f} {y1:.4f} {x2:.4f} {y2:.4f}" fill="none" '
                       f'stroke="#{rgb[0]:02x}{rgb[1]:02x}{rgb[2]:02x}" stroke-width="{2 * width[i, s, k]:.4f}" '
                       'stroke-linecap="round"/>')
        out.append("</symbol>")
    out.append("</defs>")
    for i in range(n):
        out.append(f'<use xlink:href="#glyph-{i}" href="#glyph-{i}" x="{(i % cols) * side}" '
                   f'y="{(i // cols) * side}" width="{side}" height="{side}"/>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
