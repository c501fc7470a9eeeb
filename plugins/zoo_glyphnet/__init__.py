"""glyphnet: structured glyph images that emerge from passing messages through a noisy channel.

An *inverted auto-encoder*: a generator turns a random message (a vector drawn from N(0, 1)) into
an image, a differentiable noise channel (random affine warp, random perspective warp, additive
Gaussian noise) disturbs the image, and a decoder must read the message back. Trained only on the
mean squared error between message and reconstruction, with no image data at all, the generator
learns to draw smooth, glyph-like shapes that survive the channel.

This module is what ``zoo list`` imports, so it holds only light code: the hook implementations,
the config spec and a pure-python parameter count. It imports neither torch nor numpy; the
networks live in :mod:`zoo_glyphnet.networks`, the channel in :mod:`zoo_glyphnet.channel`, the
training loop in :mod:`zoo_glyphnet.training` and the model in :mod:`zoo_glyphnet.model`.
"""

from __future__ import annotations

import zoo_core
from zoo_core.config import MAX_SEED, MAX_STEPS, ConfigSpec, Param
from zoo_core.errors import ConfigError
from zoo_core.families import Family

#: image sizes the generator can produce: a 4x4 seed doubled ``log2(size) - 2`` times
IMAGE_SIZES = (32, 64, 128)


def levels(image_size: int) -> int:
    """Number of stride-2 layers between the 4x4 base and an ``image_size`` image (32 -> 3)."""
    return max(int(image_size).bit_length() - 3, 1)


def _check(config: dict) -> None:
    need = levels(config["image_size"])
    if len(config["widths"]) < need:
        raise ConfigError(
            f"config key 'widths': image_size {config['image_size']} needs at least {need} widths "
            f"(finest first), got {config['widths']!r}")
    if config["upsample"] >= need:
        raise ConfigError(f"config key 'upsample': image_size {config['image_size']} allows at most {need - 1}, "
                          f"got {config['upsample']}")
    if config["message"] == "onehot" and config["msg_size"] < 2:
        raise ConfigError("config key 'msg_size': a onehot alphabet needs at least 2 symbols, got "
                          f"{config['msg_size']}")
    if config["stroke_width_min"] > config["stroke_width_max"]:
        raise ConfigError(f"config keys 'stroke_width_min'/'stroke_width_max': {config['stroke_width_min']} > "
                          f"{config['stroke_width_max']}")
    if config["scale_min"] > config["scale_max"]:
        raise ConfigError(f"config keys 'scale_min'/'scale_max': {config['scale_min']} > {config['scale_max']}")


CONFIG = ConfigSpec({
    "msg_size": Param(64, "int", "length of the message vector: floats (continuous), symbols K (onehot) or "
                      "bits B (binary)", min=1, max=4096),
    "message": Param("continuous", "str", "messages: 'continuous' N(0, 1) floats (MSE loss), 'onehot' one of "
                     "msg_size symbols (cross-entropy), 'binary' strings of msg_size bits (binary cross-entropy)",
                     choices=("continuous", "onehot", "binary")),
    "image_size": Param(64, "int", "side of the square images", choices=IMAGE_SIZES),
    "channels": Param(1, "int", "1 for grey glyphs, 3 for colour", choices=(1, 3)),
    "widths": Param([16, 32, 64, 128], "list",
                    "feature maps per resolution, finest first; the first log2(image_size)-2 are used",
                    min=1, max=1024),
    "generator": Param("conv", "str", "generator: 'conv' (transposed convolutions draw pixels) or 'strokes' (an MLP "
                       "draws connected paths of quadratic Bezier curves, rasterised differentiably; vector output)",
                       choices=("conv", "strokes")),
    "strokes": Param(1, "int", "strokes generator: connected paths per glyph", min=1, max=8),
    "segments": Param(16, "int", "strokes generator: quadratic Bezier curves per path", min=1, max=64),
    "stroke_hidden": Param(512, "int", "strokes generator: width of the MLP's two hidden layers", min=8, max=4096),
    "stroke_box": Param(0.65, "float", "strokes generator: control points lie in |x|, |y| <= this (the image spans "
                        "[-1, 1]; the outer 12.5% band starts at 0.75)", min=0.05, max=1.0),
    "stroke_width_min": Param(0.04, "float", "strokes generator: smallest half-width of a curve (fraction of half "
                              "the side)", min=0.005, max=0.5),
    "stroke_width_max": Param(0.10, "float", "strokes generator: largest half-width of a curve", min=0.005, max=0.5),
    "intensity_min": Param(0.6, "float", "strokes generator: faintest ink of a curve (1: every curve full ink)",
                           min=0.0, max=1.0),
    "stroke_raster": Param(32, "int", "strokes generator: side the strokes are rasterised at (capped at image_size), "
                           "enlarged to image_size in logit space", choices=(16, 32, 64, 128)),
    "antialias": Param(True, "bool", "low-pass the generator's output logits (no weights; removes checkerboard)"),
    "upsample": Param(0, "int", "generator draws at image_size / 2**upsample, enlarged bilinearly before the "
                      "sigmoid (no weights; smooth strokes instead of fine stripes)", min=0, max=3),
    "decoder_depth": Param(1, "int", "extra 3x3 conv layers per resolution in the decoder (above 4x4)",
                           min=0, max=4),
    "decoder_head": Param("conv", "str", "decoder readout: 'conv' (a 4x4 convolution over the 4x4 map: position "
                          "matters) or 'pool' (global average pooling, then 1x1: it does not)",
                          choices=("conv", "pool")),
    "channel": Param("post", "str", "training channel: 'post' resamples once per warp, exactly as the post's kornia "
                     "RandomAffine then RandomPerspective; 'fast' composes both warps into one resampling",
                     choices=("post", "fast")),
    "affine": Param(True, "bool", "channel: random affine warp on/off"),
    "affine_p": Param(0.5, "float", "channel: probability of the affine warp per image (kornia's default, the post's)",
                      min=0.0, max=1.0),
    "rotation": Param(30.0, "float", "channel: max rotation, degrees (uniform in +-rotation)", min=0.0, max=180.0),
    "translate": Param(0.1, "float", "channel: max shift, fraction of the image side", min=0.0, max=0.5),
    "scale_min": Param(0.9, "float", "channel: smallest zoom factor", min=0.1, max=4.0),
    "scale_max": Param(1.1, "float", "channel: largest zoom factor", min=0.1, max=4.0),
    "shear": Param(10.0, "float", "channel: max shear along x, degrees", min=0.0, max=60.0),
    "perspective": Param(True, "bool", "channel: random perspective warp on/off"),
    "distortion": Param(0.6, "float", "channel: how far corners move inward, fraction of half the side",
                        min=0.0, max=1.0),
    "perspective_p": Param(0.5, "float", "channel: probability of the perspective warp per image",
                           min=0.0, max=1.0),
    "noise": Param(True, "bool", "channel: additive Gaussian noise on/off (added before the warps)"),
    "noise_sigma": Param(0.25, "float", "channel: standard deviation of the additive noise", min=0.0, max=10.0),
    "blur": Param(False, "bool", "channel: random Gaussian blur on/off (before the noise; favours larger shapes)"),
    "blur_sigma": Param(0.025, "float", "channel: max blur std, fraction of the image side (min: half of it)",
                        min=0.0, max=0.25),
    "clean_weight": Param(0.0, "float", "loss: weight of the message loss on the undistorted glyph (the decoder "
                          "also learns to read clean glyphs)", min=0.0, max=10.0),
    "ink_weight": Param(0.0, "float", "loss: weight of the mean ink (pixel value) of the batch's glyphs: strokes on "
                        "a background instead of a filled frame", min=0.0, max=100.0),
    "diversity_weight": Param(0.0, "float", "loss: weight of the mean correlation of each glyph with the batch's "
                              "mean glyph: no shared template", min=0.0, max=100.0),
    "separation_weight": Param(0.0, "float", "loss: weight of a hinge on every pair of different messages in the batch "
                               "whose glyphs are closer than separation_margin (Hamming ratio, on the soft glyphs)",
                               min=0.0, max=100.0),
    "separation_margin": Param(0.7, "float", "loss: the Hamming ratio under which a pair of glyphs is pushed apart",
                               min=0.0, max=2.0),
    "separation_pool": Param(1, "int", "loss: the separation hinge compares the glyphs average-pooled by this factor "
                             "(1: every pixel; 4 makes it 16x cheaper at 128 px, where upsample draws smooth shapes)",
                             choices=(1, 2, 4, 8)),
    "lr": Param(1e-3, "float", "Adam learning rate", min=1e-6, max=1.0),
    "schedule": Param("cosine", "str", "learning-rate schedule over the run's steps: constant, or cosine decay to 0",
                      choices=("constant", "cosine")),
    "batch_size": Param(128, "int", "messages per training step", min=1, max=8192),
    "seed": Param(0, "int", "seeds the initial weights and every training batch", min=0, max=MAX_SEED),
    "steps": Param(3000, "int", "default number of training steps", min=1, max=MAX_STEPS),
}, check=_check)


def count_parameters(config: dict) -> int:
    """Scalars in the model's state dict (weights, biases and BatchNorm buffers), without torch.

    Equals ``GlyphNet(config).num_parameters``.
    """
    full = CONFIG.resolve(config)
    m, c = full["msg_size"], full["channels"]
    w = full["widths"][:levels(full["image_size"])]
    g = w[full["upsample"]:]  # the generator skips the finest widths it does not draw at

    def bn(ch: int) -> int:  # weight, bias, running_mean, running_var, num_batches_tracked
        return 4 * ch + 1

    if full["generator"] == "strokes":  # MLP: message -> hidden -> hidden -> control points + per-curve values
        h, curves = full["stroke_hidden"], full["strokes"] * full["segments"]
        out = full["strokes"] * (2 * full["segments"] + 1) * 2 + curves * (2 + (3 if c == 3 else 0))
        gen = m * h + h + h * h + h + h * out + out
    else:
        gen = m * g[-1] * 16 + bn(g[-1])
        for i in range(len(g) - 1, 0, -1):
            gen += g[i] * g[i - 1] * 16 + bn(g[i - 1])
        gen += g[0] * c * 16 + c
    dec = c * w[0] * 16 + bn(w[0])
    for i in range(1, len(w)):
        dec += full["decoder_depth"] * (w[i - 1] * w[i - 1] * 9 + bn(w[i - 1]))
        dec += w[i - 1] * w[i] * 16 + bn(w[i])
    dec += w[-1] * m * (1 if full["decoder_head"] == "pool" else 16) + m
    return gen + dec


FAMILY = Family(
    name="glyphnet",
    framework="torch",
    factory="zoo_glyphnet.model:GlyphNet",
    config=CONFIG,
    requires=("torch",),
    extra="torch",
    description="inverted auto-encoder: glyphs that carry a message through a noisy channel",
    latent=True,
    count_parameters=count_parameters,
    distributed=True,
)


@zoo_core.hookimpl
def register_families(register):
    """Register the ``glyphnet`` family (its named models are in registry.json)."""
    register(FAMILY)


@zoo_core.hookimpl
def register_commands(cli):
    """Add ``zoo glyph-alphabet`` and ``zoo glyph-experiment`` (torch is imported only when they run)."""
    from zoo_glyphnet.commands import add_commands

    add_commands(cli)
