"""Tests of the glyphnet plugin: networks, noise channel, training/checkpoints, shipped weights.

Training here only ever uses a tiny config for a few dozen steps; the shipped models are
loaded, never trained.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from helpers.slowness import scaled

torch = pytest.importorskip("torch")

import zoo_core  # noqa: E402
from zoo_core.errors import ConfigError, WeightsError, ZooError  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
TINY = dict(image_size=32, widths=[4, 8, 8], msg_size=8, batch_size=16, seed=3, lr=1e-2)


@pytest.fixture
def one_thread(monkeypatch):
    """Train on one thread: fast on a shared machine, and the same count in every process."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def tiny(**overrides):
    """A freshly built tiny glyphnet."""
    return zoo_core.build("glyphnet", **{**TINY, **overrides})


# -- light plugin module ------------------------------------------------------------------------


def test_plugin_module_imports_neither_torch_nor_numpy():
    code = ("import sys, zoo_glyphnet, zoo_core; zoo_core.list_families(); "
            "print(sorted(m for m in ('torch', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_family_registered_with_lazy_factory():
    fam = zoo_core.get_family("glyphnet")
    assert fam.framework == "torch" and fam.latent and fam.requires == ("torch",) and fam.extra == "torch"
    assert fam.factory == "zoo_glyphnet.model:GlyphNet"


@pytest.mark.parametrize("overrides", [{}, {"image_size": 32}, {"image_size": 128, "widths": [4, 8, 8, 16, 16]},
                                       {"channels": 3, "msg_size": 17, "widths": [3, 5, 7, 9, 100]},
                                       {"decoder_depth": 0}, {"decoder_depth": 3, "image_size": 32},
                                       {"upsample": 1}, {"upsample": 2, "image_size": 32, "channels": 3},
                                       {"decoder_head": "pool"}, {"message": "onehot", "msg_size": 26},
                                       {"generator": "strokes"}, {"generator": "strokes", "channels": 3, "strokes": 3,
                                                                  "segments": 5, "stroke_hidden": 33}])
def test_count_parameters_matches_the_model(overrides):
    from zoo_glyphnet import count_parameters

    model = zoo_core.build("glyphnet", **overrides)
    assert count_parameters(model.config) == model.num_parameters


def test_config_validation():
    with pytest.raises(ConfigError, match="widths"):
        zoo_core.build("glyphnet", image_size=128)  # default widths has 4 entries, 128 needs 5
    with pytest.raises(ConfigError, match="scale_min"):
        zoo_core.build("glyphnet", scale_min=1.2, scale_max=1.1)
    with pytest.raises(ConfigError, match="image_size"):
        zoo_core.build("glyphnet", image_size=48)
    with pytest.raises(ConfigError, match="channels"):
        zoo_core.build("glyphnet", channels=2)
    with pytest.raises(ConfigError, match="upsample.*at most 2"):
        zoo_core.build("glyphnet", image_size=32, upsample=3)


def test_upsample_draws_coarse_logits_and_enlarges_them_smoothly():
    sharp, smooth = tiny(), tiny(upsample=2)
    images = smooth.sample(4, seed=0)
    assert images.shape == sharp.sample(4, seed=0).shape == (4, 32, 32, 1)
    # two transposed convolutions (to 4x4, then 8x8), then a fixed bilinear x4 enlargement (no weights)
    convs = [m for m in smooth.generator if isinstance(m, torch.nn.ConvTranspose2d)]
    assert len(convs) == 2 and isinstance(smooth.generator[-2], torch.nn.Upsample)
    assert smooth.num_parameters < sharp.num_parameters

    with torch.inference_mode():
        logits = torch.nn.Sequential(*list(smooth.generator)[:-2])(torch.zeros(2, 8, 1, 1))
    assert tuple(logits.shape) == (2, 1, 8, 8)


# -- the stroke generator ------------------------------------------------------------------------


def _one_stroke(generator, points, width=0.1, intensity=1.0):
    """Paths of one glyph: one path through ``points`` (2 * segments + 1 of them)."""
    control = torch.tensor(points, dtype=torch.float32).reshape(1, 1, -1, 2)
    k = (control.shape[2] - 1) // 2
    return {"control": control, "width": torch.full((1, 1, k), width), "intensity": torch.full((1, 1, k), intensity),
            "colour": torch.ones(1, 1, k, generator.channels)}


@pytest.mark.parametrize("raster", [32, 64])
def test_stroke_rasteriser_draws_the_stroke_and_nothing_else(raster):
    from zoo_glyphnet.networks import StrokeGenerator

    gen = StrokeGenerator(8, 64, 1, segments=1, raster=raster)
    # a horizontal line from x = -0.5 to 0.5 at y = 0, half-width 0.1 (3.2 px)
    with torch.no_grad():
        image = gen.render(_one_stroke(gen, [[-0.5, 0.0], [0.0, 0.0], [0.5, 0.0]]))[0, 0].numpy()
    assert image.shape == (64, 64) and 0.0 <= image.min() and image.max() <= 1.0
    centres = (np.arange(64) + 0.5) / 32 - 1
    on = (np.abs(centres[:, None]) < 0.07) & (np.abs(centres[None, :]) < 0.45)
    off = (np.abs(centres[:, None]) > 0.14) | (np.abs(centres[None, :]) > 0.62)
    assert image[on].min() > 0.8 and image[off].max() < 0.1  # edges soft over a quarter raster pixel
    ink = image >= 0.5  # 6 or 7 rows of ink, about 38 columns
    assert 6 <= ink.any(axis=1).sum() <= 7 and 36 <= ink.any(axis=0).sum() <= 40
    with torch.no_grad():  # a fainter stroke draws at its intensity
        faint = gen.render(_one_stroke(gen, [[-0.5, 0.0], [0.0, 0.0], [0.5, 0.0]], intensity=0.6))[0, 0].numpy()
    assert faint.max() == pytest.approx(0.6, abs=0.01)


def test_stroke_generator_keeps_off_the_frame_and_is_differentiable():
    model = zoo_core.build("glyphnet", generator="strokes", segments=6, stroke_box=0.6, stroke_width_max=0.1)
    images = model.sample(16, seed=2)
    assert images.shape == (16, 64, 64, 1)
    with torch.no_grad():  # saturated: control points at the box
        paths = model.generator.paths(torch.randn(5, 64) * 10)
    assert float(paths["control"].abs().max()) <= 0.6 + 1e-6
    assert float(paths["width"].max()) <= 0.1 + 1e-6 and float(paths["intensity"].min()) >= 0.6 - 1e-6
    # the stroke's reach: box + half-width + soft edge stays inside the outer 12.5% band
    far = model.decode(np.random.default_rng(0).standard_normal((32, 64)).astype(np.float32) * 10)
    assert far[:, :8].max() < 128 and far[:, -8:].max() < 128 and far[:, :, :8].max() < 128
    messages = torch.randn(4, 64)
    model.generator.train()
    model.generator(messages).sum().backward()
    assert all(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in model.generator.parameters())


def test_stroke_svg_is_the_raster_in_vector_form(tmp_path):
    import re

    model = zoo_core.build("glyphnet", generator="strokes", segments=3, channels=3)
    svg = model.sample_svg(5, seed=4)
    assert svg.count("<symbol ") == 5 and svg.count("<use ") == 5 and svg.count("<path ") == 15
    with torch.no_grad():
        paths = model.generator.paths(torch.from_numpy(model.sample_latent(5, seed=4)))
    first = re.search(r'<symbol id="glyph-0".*?</symbol>', svg, re.S).group(0)
    widths = sorted(float(w) for w in re.findall(r'stroke-width="([0-9.]+)"', first))
    assert widths == pytest.approx(sorted((2 * paths["width"][0, 0]).tolist()), abs=1e-4)
    with pytest.raises(ZooError, match="no SVG form"):
        tiny().sample_svg(2)


def test_cli_sample_svg(tmp_path):
    from click.testing import CliRunner
    from zoo_cli.main import cli

    out = tmp_path / "glyphs.svg"
    result = CliRunner().invoke(cli, ["sample", "glyphnet", "-n", "3", "-o", str(out), "--set", "generator=strokes",
                                      "--set", "segments=2"])
    assert result.exit_code == 0, result.output
    assert out.read_text().count("<symbol ") == 3
    result = CliRunner().invoke(cli, ["sample", "glyphnet", "-n", "3", "-o", str(tmp_path / "x.svg")])
    assert result.exit_code == 2 and "no SVG form" in result.output and "Traceback" not in result.output


# -- generator, sampling, weights ---------------------------------------------------------------


@pytest.mark.parametrize("size,widths,channels", [(32, [4, 4, 4], 1), (64, [4, 4, 4, 4], 3),
                                                  (128, [2, 4, 4, 4, 4], 1)])
def test_sample_shapes_and_dtype(size, widths, channels):
    model = zoo_core.build("glyphnet", image_size=size, widths=widths, channels=channels, msg_size=8)
    images = model.sample(3, seed=0)
    assert images.shape == (3, size, size, channels) and images.dtype == np.uint8
    assert model.image_shape == (size, size, channels)


def test_sampling_is_deterministic_and_seeded():
    a, b = tiny(), tiny()
    torch.manual_seed(123)  # the global RNG must not matter
    first = a.sample(6, seed=4)
    torch.rand(10)
    assert np.array_equal(first, a.sample(6, seed=4))
    assert np.array_equal(first, b.sample(6, seed=4))  # same config seed, same weights
    assert not np.array_equal(first, a.sample(6, seed=5))
    assert not np.array_equal(first, tiny(seed=4).sample(6, seed=4))


def test_decode_arbitrary_latents():
    model = tiny()
    latents = np.linspace(-3, 3, 4 * 8).reshape(4, 8)  # float64, not from the prior
    images = model.decode(latents)
    assert images.shape == (4, 32, 32, 1) and images.dtype == np.uint8
    assert np.array_equal(images[1:2], model.decode(latents[1:2]))  # eval mode: no batch coupling
    assert np.array_equal(model.sample(3, seed=9), model.decode(model.sample_latent(3, seed=9)))
    with pytest.raises(ZooError, match="shape"):
        model.decode(np.zeros((2, 7)))


def test_state_dict_is_numpy_with_batchnorm_buffers():
    state = tiny().state_dict()
    assert all(isinstance(v, np.ndarray) for v in state.values())
    assert {k.split(".")[0] for k in state} == {"generator", "decoder"}
    for prefix in ("generator", "decoder"):
        assert any(k.startswith(prefix) and k.endswith("running_mean") for k in state)
        assert any(k.startswith(prefix) and k.endswith("num_batches_tracked") for k in state)


def test_save_load_round_trip(tmp_path, one_thread):
    model = tiny()
    model.train(steps=3)  # moves weights and BatchNorm statistics away from the seeded init
    model.save(tmp_path / "run")
    loaded = zoo_core.load(tmp_path / "run")
    assert type(loaded).__name__ == "GlyphNet"
    for name, value in model.state_dict().items():
        assert np.array_equal(value, loaded.state_dict()[name]), name
    assert np.array_equal(model.sample(5, seed=1), loaded.sample(5, seed=1))
    assert not np.array_equal(tiny().sample(5, seed=1), loaded.sample(5, seed=1))


# -- the noise channel --------------------------------------------------------------------------


def _images(batch=4, channels=1, size=32):
    gen = torch.Generator().manual_seed(0)
    return torch.rand(batch, channels, size, size, generator=gen)


def test_channel_all_off_is_identity():
    from zoo_glyphnet.channel import NoiseChannel

    x = _images()
    channel = NoiseChannel(affine=False, perspective=False, noise=False, blur=False)
    assert torch.equal(channel(x), x)
    config = zoo_core.build("glyphnet", affine=False, perspective=False, noise=False, blur=False).config
    assert torch.equal(NoiseChannel.from_config(config)(x), x)
    assert torch.equal(NoiseChannel.from_config(zoo_core.build("glyphnet", blur=True).config, enabled=False)(x), x)


def test_channel_follows_every_config_key():
    config = zoo_core.build("glyphnet", affine=False, affine_p=0.3, rotation=12.0, translate=0.2, scale_min=0.8,
                            scale_max=1.3, shear=5.0, perspective=False, distortion=0.4, perspective_p=0.7,
                            noise=False, noise_sigma=0.5, blur=True, blur_sigma=0.05, channel="fast").config
    ch = zoo_core.build("glyphnet", **{k: config[k] for k in config}).channel
    got = (ch.affine, ch.affine_p, ch.rotation, ch.translate, ch.scale, ch.shear, ch.perspective, ch.distortion,
           ch.perspective_p, ch.noise, ch.noise_sigma, ch.blur, ch.blur_sigma, ch.resample)
    assert got == (False, 0.3, 12.0, 0.2, (0.8, 1.3), 5.0, False, 0.4, 0.7, False, 0.5, True, 0.05, "fast")
    assert zoo_core.build("glyphnet").channel.resample == "post"
    with pytest.raises(ConfigError, match="channel"):
        zoo_core.build("glyphnet", channel="kornia")


def test_channel_zero_strength_warps_are_identity():
    from zoo_glyphnet.channel import NoiseChannel

    x = _images()
    flat = NoiseChannel(rotation=0, translate=0, scale=(1, 1), shear=0, distortion=0, noise=False)
    assert torch.allclose(flat(x), x, atol=1e-5)
    never = NoiseChannel(affine=False, perspective_p=0.0, noise=False)
    assert torch.equal(never(x), x)


@pytest.mark.parametrize("term", ["affine", "perspective", "noise", "blur"])
def test_each_channel_term_changes_images_and_is_differentiable(term):
    from zoo_glyphnet.channel import NoiseChannel

    only = {name: name == term for name in ("affine", "perspective", "noise", "blur")}
    channel = NoiseChannel(perspective_p=1.0, blur_sigma=0.1, **only)
    x = _images().requires_grad_(True)
    y = channel(x, generator=torch.Generator().manual_seed(1))
    assert y.shape == x.shape and (y - x).abs().mean() > 1e-3
    # same generator seed, same disturbance
    assert torch.equal(y, channel(x, generator=torch.Generator().manual_seed(1)))
    weights = torch.linspace(-1, 1, y.numel()).reshape(y.shape)
    (y * weights).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_gaussian_blur_keeps_mass_and_zero_sigma_is_identity():
    from zoo_glyphnet.channel import gaussian_blur

    x = torch.zeros(2, 1, 17, 17)
    x[:, :, 8, 8] = 1.0
    y = gaussian_blur(x, torch.tensor([0.0, 1.5], dtype=torch.float64))
    assert torch.equal(y[0], x[0])
    assert abs(float(y[1].sum()) - 1.0) < 1e-5 and float(y[1, 0, 8, 8]) < 0.1
    assert torch.allclose(y[1, 0], y[1, 0].T, atol=1e-7)  # isotropic


def test_perspective_homography_maps_corners():
    from zoo_glyphnet.channel import homography

    src = torch.tensor([[[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]]], dtype=torch.float64)
    dst = torch.tensor([[[-0.7, -0.9], [0.8, -0.6], [0.5, 0.9], [-0.9, 0.4]]], dtype=torch.float64)
    h = homography(src, dst)
    points = torch.cat([src, torch.ones(1, 4, 1, dtype=torch.float64)], dim=-1) @ h.transpose(1, 2)
    assert torch.allclose(points[..., :2] / points[..., 2:], dst, atol=1e-9)


def test_affine_warp_rotates_about_the_centre():
    from zoo_glyphnet.channel import NoiseChannel

    x = torch.zeros(1, 1, 32, 32)
    x[..., 4:8, 14:18] = 1.0  # a blob above the centre
    rot = NoiseChannel(rotation=90, translate=0, scale=(1, 1), shear=0, perspective=False, noise=False)
    y = rot(x, generator=torch.Generator().manual_seed(0))
    assert abs(float(y.sum()) - float(x.sum())) < 0.5  # nothing lost at the border
    ys, xs = torch.nonzero(y[0, 0] > 0.5, as_tuple=True)
    centre = torch.tensor([float(ys.float().mean()), float(xs.float().mean())])
    assert float((centre - 15.5).norm()) > 8  # still off-centre, by the same distance


def test_post_channel_is_the_posts_parameters_and_leaves_undrawn_images_alone():
    from zoo_glyphnet.channel import NoiseChannel, describe

    post = NoiseChannel.post()
    assert (post.resample, post.noise_sigma, post.affine_p, post.rotation, post.translate, post.scale, post.shear,
            post.distortion, post.perspective_p) == ("post", 0.25, 0.5, 30.0, 0.1, (0.9, 1.1), 10.0, 0.6, 0.5)
    assert "post" in describe(post)
    default = zoo_core.build("glyphnet").channel  # the family's default training channel is the post's
    assert describe(default) == describe(post)
    assert zoo_core.load("glyphnet-64").channel.resample == "post"  # what the shipped models trained through
    x = _images(batch=64).requires_grad_(True)
    quiet = NoiseChannel(**{**_post_kwargs(), "noise": False})
    y = quiet(x, generator=torch.Generator().manual_seed(0))
    params = quiet.post_params(64, 32, 32, torch.Generator().manual_seed(0))
    neither = ~(params["affine_apply"] | params["perspective_apply"])
    assert 5 < int(neither.sum()) < 30  # p = 0.25 of 64
    assert torch.equal(y[neither], x[neither])  # not resampled at all
    assert (y[~neither] - x[~neither]).abs().mean() > 0.05
    y.sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad[~neither].abs().sum() > 0


def _post_kwargs():
    from zoo_glyphnet.channel import POST_CHANNEL

    return dict(POST_CHANNEL)


def test_post_channel_equals_kornia_for_the_same_parameters():
    """Given kornia's own parameter draws, the two warps give kornia's images (to float rounding)."""
    K = pytest.importorskip("kornia.augmentation")
    from zoo_glyphnet.channel import apply_where, homography, kornia_affine_matrix, pixel_to_normalised_inverse

    torch.manual_seed(0)
    x = torch.rand(32, 3, 24, 40)  # not square: x and y conventions must not be swapped
    _, _, h, w = x.shape
    affine = K.RandomAffine(degrees=30, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=(-10.0, 10.0), p=0.5)
    params = affine.forward_parameters(x.shape)
    assert float(params["shear_y"].abs().max()) == 0.0 and torch.equal(params["scale"][:, 0], params["scale"][:, 1])
    forward = kornia_affine_matrix(params["angle"].double(), params["translations"].double(),
                                   params["scale"][:, 0].double(), params["shear_x"].double(), h, w)
    ours = apply_where(x, params["batch_prob"] > 0.5, pixel_to_normalised_inverse(forward, h, w))
    assert torch.allclose(ours, affine(x, params=params), atol=1e-4)
    perspective = K.RandomPerspective(0.6, p=0.5)
    params = perspective.forward_parameters(x.shape)
    forward = homography(params["start_points"].double(), params["end_points"].double())
    ours = apply_where(x, params["batch_prob"] > 0.5, pixel_to_normalised_inverse(forward, h, w))
    assert torch.allclose(ours, perspective(x, params=params), atol=1e-4)


def _ks(a, b):
    """Two-sample Kolmogorov-Smirnov statistic."""
    a, b = np.sort(a), np.sort(b)
    both = np.concatenate([a, b])
    return float(np.abs(np.searchsorted(a, both, "right") / len(a) - np.searchsorted(b, both, "right") / len(b)).max())


def test_post_channel_draws_kornias_distortions():
    """Our random draws against kornia's: the same distributions of what the warps do to an image.

    Per image: mass kept in the frame, centroid x and y, sharpness (mean squared horizontal
    difference: one resampling per warp blurs a set amount) and whether it was left untouched.
    Two-sample KS at alpha 1e-4 each. The one-pass channel, even at kornia's p=0.5, must fail it.
    """
    K = pytest.importorskip("kornia.augmentation")
    from zoo_glyphnet.channel import NoiseChannel

    n, size = 3000, 32
    yy, xx = torch.meshgrid(torch.arange(size) / size, torch.arange(size) / size, indexing="ij")
    block = ((xx > 0.55) & (xx < 0.8) & (yy > 0.2) & (yy < 0.6)).float()
    checker = ((torch.arange(size)[:, None] + torch.arange(size)) % 2 == 0).float() * (yy > 0.6)
    x = (block + 0.5 * checker).expand(n, 1, size, size).contiguous()

    def stats(out):
        out = out[:, 0].double()
        mass = out.sum((1, 2))
        return {"mass": mass, "cx": (out * xx).sum((1, 2)) / mass, "cy": (out * yy).sum((1, 2)) / mass,
                "sharpness": ((out[:, :, 1:] - out[:, :, :-1]) ** 2).mean((1, 2)),
                "untouched": ((out - x[:, 0]).abs().amax((1, 2)) < 1e-6).double()}

    torch.manual_seed(1)
    kornia_warps = torch.nn.Sequential(
        K.RandomAffine(degrees=30, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=(-10.0, 10.0)),
        K.RandomPerspective(0.6, p=0.5))
    with torch.no_grad():
        reference = stats(kornia_warps(x))
    critical = np.sqrt(-np.log(1e-4 / 2) / 2) * np.sqrt(2 / n)
    quiet = {**_post_kwargs(), "noise": False}
    ours = stats(NoiseChannel(**quiet)(x, generator=torch.Generator().manual_seed(2)))
    fast = stats(NoiseChannel(**{**quiet, "resample": "fast"})(x, generator=torch.Generator().manual_seed(2)))
    for key in reference:
        assert _ks(reference[key].numpy(), ours[key].numpy()) < critical, key
    assert max(_ks(reference[k].numpy(), fast[k].numpy()) for k in reference) > critical


def test_glyph_statistics():
    from zoo_glyphnet.metrics import binarise, glyph_statistics, pairwise_hamming

    rng = np.random.default_rng(0)
    independent = rng.random((400, 256)) < 0.3
    stats = glyph_statistics(independent)
    assert abs(stats["ink"] - 0.3) < 0.01 and abs(stats["hamming_ratio"] - 1) < 0.02
    assert abs(stats["mean_correlation"]) < 0.1
    template = np.repeat(rng.random((1, 256)) < 0.4, 50, axis=0)
    stats = glyph_statistics(template)
    assert stats["hamming_ratio"] == 0 and abs(stats["mean_correlation"] - 1) < 1e-9
    few = np.array([[1, 1, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]], dtype=bool)
    ham = pairwise_hamming(few)
    assert ham[0, 1] == 0.5 and ham[0, 2] == 0.5 and ham[1, 2] == 0.5
    stats = glyph_statistics(few)  # 4 of 12 values ink; pairs differ by 0.5; the blank image counts as 0
    assert stats["ink"] == pytest.approx(1 / 3) and stats["hamming"] == pytest.approx(0.5)
    assert stats["hamming_ratio"] == pytest.approx(0.5 / (2 * (1 / 3) * (2 / 3)))  # hamming / (2 p (1 - p))
    assert binarise(np.array([[[127, 128]]], dtype=np.uint8)).tolist() == [[False, True]]
    assert binarise(np.array([[0.49, 0.5]])).tolist() == [[False, True]]


# -- training, checkpoints, resume --------------------------------------------------------------


def test_training_loss_falls_and_callbacks_see_every_step(one_thread):
    model = tiny()
    seen = []
    history = model.train(steps=60, callbacks=[lambda step, logs: seen.append((step, logs["loss"]))])
    assert [s for s, _ in seen] == list(range(1, 61)) == history["step"]
    losses = np.array(history["loss"])
    assert losses[-10:].mean() < 0.85 * losses[:10].mean()
    with pytest.raises(ZooError, match="data"):
        model.train(np.zeros(3), steps=1)


def test_learning_rate_schedule():
    from zoo_glyphnet.training import learning_rate

    config = tiny().config
    rates = [learning_rate(config, step, 100) for step in range(1, 101)]
    assert rates[0] == config["lr"] and all(a > b for a, b in zip(rates, rates[1:])) and rates[-1] < 0.01 * config["lr"]
    assert learning_rate({**config, "schedule": "constant"}, 90, 100) == config["lr"]


def test_training_uses_every_core_unless_told(monkeypatch):
    from zoo_glyphnet.training import training_threads

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert training_threads() == os.cpu_count()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert training_threads() == 1


def test_checkpoint_resume_equals_uninterrupted_run(tmp_path, one_thread):
    straight = tiny()
    full = straight.train(steps=12, checkpoint_dir=tmp_path / "a", checkpoint_every=4)
    def stop_at_8(step, logs):
        if step == 8:
            raise KeyboardInterrupt  # as if Ctrl-C: a checkpoint of step 8 is written first

    with pytest.raises(KeyboardInterrupt):
        tiny().train(steps=12, callbacks=[stop_at_8], checkpoint_dir=tmp_path / "b", checkpoint_every=5)
    resumed = tiny()  # fresh weights: everything must come from the checkpoint
    history = resumed.train(steps=12, checkpoint_dir=tmp_path / "b", checkpoint_every=4, resume=True)
    assert history["step"] == list(range(1, 13))
    assert history["loss"] == full["loss"]  # bit for bit, including steps 9..12 run after resuming
    for name, value in straight.state_dict().items():
        assert np.array_equal(value, resumed.state_dict()[name]), name
    done = tiny()
    again = done.train(steps=12, checkpoint_dir=tmp_path / "b", resume=True)  # nothing left to do
    assert again["loss"] == full["loss"]


_KILL_SCRIPT = textwrap.dedent("""
    import os, signal, sys, json, zoo_core
    config, ckpt, kill_at = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    model = zoo_core.build("glyphnet", **config)
    def callback(step, logs):
        print(step, repr(logs["loss"]), flush=True)
        if step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL if sys.argv[4] == "KILL" else signal.SIGINT)
    try:
        model.train(steps=20, callbacks=[callback], checkpoint_dir=ckpt, checkpoint_every=5)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(130)
""")


def _run_and_signal(tmp_path, kill_at, how):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-c", _KILL_SCRIPT, json.dumps(TINY), str(tmp_path / "ckpt"),
                           str(kill_at), how], capture_output=True, text=True, env=env, timeout=scaled(120))


def test_sigkill_then_resume_retraces_the_loss_curve(tmp_path, one_thread):
    proc = _run_and_signal(tmp_path, kill_at=13, how="KILL")
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    printed = [line.split() for line in proc.stdout.splitlines()]
    assert [int(s) for s, _ in printed] == list(range(1, 14))
    from zoo_core.io.checkpoints import latest_checkpoint, read_checkpoint

    assert read_checkpoint(latest_checkpoint(tmp_path / "ckpt"))[1]["step"] == 10
    resumed = tiny()
    after = []
    history = resumed.train(steps=20, callbacks=[lambda s, logs: after.append(s)], checkpoint_dir=tmp_path / "ckpt",
                            checkpoint_every=5, resume=True)
    assert after == list(range(11, 21))
    reference = tiny().train(steps=20)
    assert history["loss"] == reference["loss"]
    # the killed process printed steps 11..13 before dying: the resumed run redid them identically
    assert [float(v) for _, v in printed] == reference["loss"][:13]


def test_ctrl_c_writes_a_checkpoint_then_reraises(tmp_path):
    proc = _run_and_signal(tmp_path, kill_at=3, how="INT")
    assert proc.returncode == 130 and proc.stdout.strip().endswith("interrupted"), proc.stderr
    from zoo_core.io.checkpoints import latest_checkpoint, read_checkpoint

    tensors, meta = read_checkpoint(latest_checkpoint(tmp_path / "ckpt"))
    assert meta["step"] == 3 and len(tensors["history/loss"]) == 3
    assert not list((tmp_path / "ckpt").glob("*.tmp"))  # written atomically, no leftovers


def test_corrupt_or_foreign_checkpoint_is_refused(tmp_path, one_thread):
    model = tiny()
    model.train(steps=2, checkpoint_dir=tmp_path / "ok")
    good = (tmp_path / "ok" / "step-00000002.safetensors").read_bytes()
    header = int.from_bytes(good[:8], "little")
    flipped = bytearray(good)
    flipped[8 + header + 100] ^= 0x01
    cases = {"truncated": good[: len(good) // 2], "bitflip": bytes(flipped), "garbage": b"not a checkpoint",
             "empty": b""}
    for label, blob in cases.items():
        folder = tmp_path / label
        folder.mkdir()
        (folder / "step-00000002.safetensors").write_bytes(blob)
        with pytest.raises(WeightsError) as info:
            tiny().train(steps=4, checkpoint_dir=folder, resume=True)
        message = str(info.value)
        assert "corrupt" in message and "\n" not in message, label
    with pytest.raises(WeightsError, match="another config"):
        tiny(msg_size=9).train(steps=4, checkpoint_dir=tmp_path / "ok", resume=True)


def test_cli_train_and_eval(tmp_path, one_thread):
    from click.testing import CliRunner
    from zoo_cli.main import cli

    sets = [arg for k, v in TINY.items() for arg in ("--set", f"{k}={json.dumps(v)}")]
    run = tmp_path / "run"
    result = CliRunner().invoke(cli, ["train", "glyphnet", "-o", str(run), "--steps", "4", *sets])
    assert result.exit_code == 0, result.output
    assert (run / "model.safetensors").is_file() and list((run / "checkpoint").glob("step-*.safetensors"))
    assert json.loads((run / "run.json").read_text())["step"] == 4
    result = CliRunner().invoke(cli, ["eval", str(run), "--json"])
    assert result.exit_code == 0, result.output
    assert {"mse_channel", "cosine_channel", "mse_clean", "cosine_clean", "ink", "hamming_ratio",
            "mean_correlation", *GLYPH_MEASURES} <= set(json.loads(result.output))


def test_evaluate_returns_the_metrics():
    model = tiny()
    metrics = model.evaluate(seed=0, messages=64)
    for key in ("mse_channel", "cosine_channel", "mse_clean", "cosine_clean"):
        assert isinstance(metrics[key], float) and np.isfinite(metrics[key])
    assert -1 <= metrics["cosine_channel"] <= 1 and metrics["mse_clean"] >= 0
    assert metrics == model.evaluate(seed=0, messages=64)
    assert metrics != model.evaluate(seed=1, messages=64)
    from zoo_glyphnet.metrics import glyph_measures  # the glyph measures: on `zoo sample -n 200 --seed 1`
    assert {k: metrics[k] for k in GLYPH_MEASURES} == glyph_measures(model.sample(200, seed=1))
    assert "cosine_train_channel" not in metrics  # tiny() trains through the post's channel: one channel to report
    fast = tiny(channel="fast", affine_p=1.0).evaluate(seed=0, messages=64)  # and through its own, where it differs
    assert isinstance(fast["cosine_train_channel"], float) and isinstance(fast["mse_train_channel"], float)
    assert fast["cosine_train_channel"] != fast["cosine_channel"]


# -- shipped pretrained models ------------------------------------------------------------------

SHIPPED = {"glyphnet-32": (32, 1), "glyphnet-64": (64, 1), "glyphnet-64-rgb": (64, 3), "glyphnet-alphabet-26": (64, 1)}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_entries_load(name):
    registry = json.loads((ROOT / "registry.json").read_text())
    entry = next(m for m in registry["models"] if m["name"] == name)
    assert entry["family"] == "glyphnet" and entry["license"] == "MIT"
    assert entry["weights"]["source"] == f"pkg://zoo_glyphnet/weights/{name}.safetensors"
    assert entry["config"]["generator"] == "strokes"  # every shipped glyphnet draws strokes (issue #29)
    size, channels = SHIPPED[name]
    model = zoo_core.load(name)
    images = model.sample(4, seed=0)
    assert images.shape == (4, size, size, channels)
    assert images.std() > 10  # structured glyphs, not a flat image
    # drawn in fixed blocks of 64 messages: the first rows do not depend on n (across a block boundary too)
    assert np.array_equal(model.sample(70, seed=0)[:4], images)


def test_shipped_glyphnet_64_samples_and_svg(tmp_path):
    images = zoo_core.load("glyphnet-64").sample(16, seed=0)
    assert images.shape == (16, 64, 64, 1) and images.dtype == np.uint8
    svg = tmp_path / "glyphs.svg"
    result = _cli("sample", "glyphnet-64", "-n", 4, "-o", svg)
    assert result.exit_code == 0, result.output
    assert svg.read_text().count("<symbol ") == 4 and svg.read_text().count("<path ") == 4 * 12


#: the glyph measures of issue #29 that `zoo eval` reports for every glyphnet model
GLYPH_MEASURES = ("periodicity", "lattice", "largest_component", "frame_ink", "ink")

#: what `zoo eval NAME --json` reports on the shipped weights (1,000 held-out messages, seed 0; the
#: post's channel; the glyph measures and ink on the 200 glyphs of `zoo sample NAME -n 200 --seed 1`),
#: recorded from the shipped files: the stroke models of issue #29 (16-float messages; docs/glyphnet.md,
#: "Strokes for every model"). hamming_ratio / mean_correlation stay as duplicate guards.
SHIPPED_EVAL = {
    "glyphnet-32": dict(cosine_clean=0.9881, cosine_channel=0.9621, mse_channel=0.0788, ink=0.177, hamming_ratio=0.7798,
                        mean_correlation=0.47, periodicity=0.0502, lattice=0.1149, largest_component=1.0,
                        frame_ink=0.0),
    "glyphnet-64": dict(cosine_clean=0.9911, cosine_channel=0.9735, mse_channel=0.0553, ink=0.1337, hamming_ratio=0.8082,
                        mean_correlation=0.4386, periodicity=0.0399, lattice=0.1067, largest_component=1.0,
                        frame_ink=0.0001),
    "glyphnet-64-rgb": dict(cosine_clean=0.9954, cosine_channel=0.989, mse_channel=0.0235, ink=0.2238,
                            hamming_ratio=0.8368, mean_correlation=0.4049, periodicity=0.0573, lattice=0.1166,
                            largest_component=1.0, frame_ink=0.0008),
}


@pytest.mark.parametrize("name", sorted(SHIPPED_EVAL))
def test_shipped_models_meet_the_glyph_bars(name):
    """Issue #29's bars on the shipped files: read back clean and through the post's channel (cosine
    >= 0.95), and drawn as letters are (periodicity <= 0.10, lattice <= 0.15, largest_component >= 0.60,
    frame_ink <= 0.50, ink 0.05-0.40); the figures as recorded."""
    result = _cli("eval", name, "--json")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    for key in ("cosine_clean", "cosine_channel", "mse_channel", "ink", "hamming_ratio", "mean_correlation",
                *GLYPH_MEASURES):
        assert isinstance(metrics[key], float), key
    assert metrics["messages"] == 1000 and "post" in metrics["channel"]
    assert "cosine_train_channel" not in metrics  # it trained through the post's channel itself
    # float sums differ in the last bits between thread counts and CPUs: 5e-4, far below any change of weights
    got = {key: round(metrics[key], 4) for key in SHIPPED_EVAL[name]}
    assert got == pytest.approx(SHIPPED_EVAL[name], abs=5e-4)
    assert metrics["cosine_clean"] >= 0.95 and metrics["cosine_channel"] >= 0.95
    assert metrics["periodicity"] <= 0.10 and metrics["lattice"] <= 0.15
    assert metrics["largest_component"] >= 0.60 and metrics["frame_ink"] <= 0.50 and 0.05 <= metrics["ink"] <= 0.40


def test_shipped_alphabet_meets_the_alphabet_bars(tmp_path):
    """glyphnet-alphabet-26, from its shipped file (the strokes generator, issue #29): every symbol read
    back through the post's channel (>= 99%), and the four glyph measures within issue #29's bars."""
    result = _cli("eval", "glyphnet-alphabet-26", "--json")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    assert "post" in metrics["channel"] and metrics["messages"] == 1000
    got = {k: round(metrics[k], 4) for k in ("accuracy_clean", "accuracy_channel", "worst_symbol_accuracy_channel",
                                              "ink", "hamming_ratio", "mean_correlation", *GLYPH_MEASURES)}
    assert got == pytest.approx(dict(accuracy_clean=1.0, accuracy_channel=0.997, worst_symbol_accuracy_channel=0.9737,
                                     ink=0.1344, hamming_ratio=0.8481, mean_correlation=0.3845, periodicity=0.0297,
                                     lattice=0.1177, largest_component=1.0, frame_ink=0.0096), abs=5e-4)
    # issue #29's bars
    assert metrics["accuracy_channel"] >= 0.99 and metrics["periodicity"] <= 0.10 and metrics["lattice"] <= 0.15
    assert metrics["largest_component"] >= 0.60 and metrics["frame_ink"] <= 0.50 and 0.05 <= metrics["ink"] <= 0.40
    result = _cli("glyph-alphabet", "glyphnet-alphabet-26", "-o", tmp_path / "sheet.png", "--cols", 13, "--json")
    assert result.exit_code == 0, result.output
    sheet = json.loads(result.output.strip().splitlines()[-1])
    assert sheet["symbols"] == 26 and sheet["closest_pair"] == ["8", "19"]
    # below issue #15's 0.5: two of the 26 strokes are small scribbles near the centre (docs/glyphnet.md)
    assert sheet["min_hamming_ratio"] == pytest.approx(0.3521, abs=5e-4)
    svg = tmp_path / "alphabet.svg"
    result = _cli("sample", "glyphnet-alphabet-26", "-n", 26, "-o", svg)
    assert result.exit_code == 0, result.output
    assert svg.read_text().count("<symbol ") == 26 and svg.read_text().count("<path ") == 26 * 8


# -- discrete messages, large messages ------------------------------------------------------------


def test_discrete_messages_sample_train_and_evaluate(one_thread):
    onehot = tiny(message="onehot", msg_size=6)
    latents = onehot.sample_latent(50, seed=1)
    assert latents.shape == (50, 6) and set(np.unique(latents)) == {0.0, 1.0} and (latents.sum(1) == 1).all()
    assert np.array_equal(onehot.encode_symbols(np.array([2, 0])), np.eye(6, dtype=np.float32)[[2, 0]])
    with pytest.raises(ZooError, match="symbols"):
        onehot.encode_symbols(np.array([6]))
    with pytest.raises(ZooError, match="onehot"):
        tiny().encode_symbols(np.array([0]))
    history = onehot.train(steps=40)
    assert np.mean(history["loss"][-5:]) < np.mean(history["loss"][:5])  # cross-entropy from log(6) = 1.79 down
    metrics = onehot.evaluate(seed=0, messages=60)
    assert {"accuracy_clean", "accuracy_channel", "worst_symbol_accuracy_channel", "ink", "hamming_ratio",
            "mean_correlation"} <= set(metrics) and "cosine_channel" not in metrics
    assert 0 <= metrics["worst_symbol_accuracy_channel"] <= metrics["accuracy_channel"] <= 1

    binary = tiny(message="binary", msg_size=5)
    latents = binary.sample_latent(20, seed=0)
    assert set(np.unique(latents)) == {-1.0, 1.0}
    binary.train(steps=3)
    metrics = binary.evaluate(seed=0, messages=40)
    assert 0 <= metrics["accuracy_channel"] <= metrics["bit_accuracy_channel"] <= 1


def test_message_sizes_up_to_4096_and_validation():
    big = zoo_core.build("glyphnet", image_size=32, widths=[2, 2, 2], msg_size=2048)
    assert big.sample(2, seed=0).shape == (2, 32, 32, 1)
    alphabet = zoo_core.build("glyphnet", image_size=32, widths=[2, 2, 2], msg_size=2048, message="onehot")
    assert alphabet.decode(alphabet.encode_symbols(np.array([0, 2047]))).shape == (2, 32, 32, 1)
    from zoo_glyphnet import count_parameters

    assert count_parameters(alphabet.config) == alphabet.num_parameters
    assert zoo_core.build("glyphnet", image_size=32, widths=[2, 2, 2], msg_size=4096).latent_size == 4096
    with pytest.raises(ConfigError, match="msg_size"):
        zoo_core.build("glyphnet", msg_size=4097)
    with pytest.raises(ConfigError, match="msg_size.*2 symbols"):
        zoo_core.build("glyphnet", msg_size=1, message="onehot")
    with pytest.raises(ConfigError, match="message"):
        zoo_core.build("glyphnet", message="ternary")
    for key in ("ink_weight", "diversity_weight", "clean_weight", "separation_weight", "separation_margin"):
        with pytest.raises(ConfigError, match=key):
            zoo_core.build("glyphnet", **{key: -1.0})


def test_glyph_penalties_enter_the_loss(one_thread):
    from zoo_glyphnet.training import glyph_penalty

    images = torch.rand(8, 1, 16, 16)
    assert glyph_penalty(tiny().config, images) == 0.0
    ink = glyph_penalty({"ink_weight": 2.0}, images)
    assert float(ink) == pytest.approx(2.0 * float(images.mean()))
    same = images[:1].expand(8, 1, 16, 16)
    assert float(glyph_penalty({"diversity_weight": 1.0}, same)) == pytest.approx(1.0, abs=1e-4)  # one template
    plain = tiny().train(steps=3)["loss"]
    assert tiny(ink_weight=1.0).train(steps=3)["loss"][0] > plain[0]
    assert tiny(separation_weight=1.0).train(steps=3)["loss"][0] > plain[0]


def test_clean_weight_reads_clean_and_distorted_glyphs_in_one_batch(one_thread):
    """With clean_weight, the decoder sees the distorted and the clean glyphs of a step as one batch,
    so BatchNorm normalises both with their mixture's statistics in training as in eval (two passes
    normalised each by its own batch and cost 0.08 of channel cosine at eval)."""
    model = tiny(clean_weight=0.5)
    batches = []
    hook = model.decoder.register_forward_hook(lambda module, args, out: batches.append(len(args[0])))
    model.train(steps=2)
    hook.remove()
    assert batches == [2 * model.config["batch_size"]] * 2
    batches.clear()
    plain = tiny()
    hook = plain.decoder.register_forward_hook(lambda module, args, out: batches.append(len(args[0])))
    plain.train(steps=2)
    hook.remove()
    assert batches == [plain.config["batch_size"]] * 2


def test_separation_hinge_lifts_close_pairs_of_different_messages():
    from zoo_glyphnet.training import glyph_penalty, separation_hinge

    cfg = {"separation_weight": 1.0, "separation_margin": 0.7}
    messages = torch.eye(4)
    same = torch.rand(1, 1, 8, 8).round().expand(4, 1, 8, 8)
    assert float(separation_hinge(same, messages, 0.7)) == pytest.approx(0.7)  # every pair at distance 0
    assert float(glyph_penalty(cfg, same, messages)) == pytest.approx(0.7)
    # one message drawn four times: no pair of *different* messages, nothing to push apart
    assert float(separation_hinge(same, messages[:1].expand(4, 4), 0.7)) == 0.0
    # four black-and-white glyphs with half the pixels on, pairwise at a Hamming ratio of 1 or 2: above the margin
    halves = torch.zeros(4, 1, 2, 2)
    halves[0, 0, 0], halves[1, 0, 1], halves[2, 0, :, 0], halves[3, 0, :, 1] = 1, 1, 1, 1
    assert float(separation_hinge(halves, messages, 0.7)) == pytest.approx(0.0, abs=1e-6)
    # grey glyphs equal to each other do not count as far apart
    assert float(separation_hinge(torch.full((4, 1, 8, 8), 0.5), messages, 0.7)) == pytest.approx(0.7)
    # separation_pool compares the glyphs average-pooled: fine checkerboards that differ pixel by pixel
    # are far apart in full but the same grey when pooled 2x2
    checks = torch.zeros(4, 1, 8, 8)
    checks[0::2, :, 0::2, 0::2] = checks[0::2, :, 1::2, 1::2] = 1
    checks[1::2, :, 0::2, 1::2] = checks[1::2, :, 1::2, 0::2] = 1
    full = float(glyph_penalty(cfg, checks, messages))
    pooled = float(glyph_penalty({**cfg, "separation_pool": 2}, checks, messages))
    assert pooled == pytest.approx(float(separation_hinge(torch.nn.functional.avg_pool2d(checks, 2), messages, 0.7)))
    assert full < pooled == pytest.approx(0.7)
    with pytest.raises(ConfigError, match="separation_pool"):
        zoo_core.build("glyphnet", separation_pool=3)


def _cli(*args):
    from click.testing import CliRunner
    from zoo_cli.main import add_plugin_commands, cli

    add_plugin_commands()
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_alphabet_sheet(tmp_path):
    from zoo_glyphnet.commands import labelled_sheet

    onehot = tiny(message="onehot", msg_size=12)
    onehot.save(tmp_path / "abc")
    result = _cli("glyph-alphabet", tmp_path / "abc", "-o", tmp_path / "sheet.png", "--cols", 5, "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output.splitlines()[-1])
    assert figures["symbols"] == 12 and 0 <= figures["min_hamming_ratio"]
    from zoo_core.media.images import read_image

    sheet = np.asarray(read_image(tmp_path / "sheet.png"))
    assert sheet.shape[0] == 2 + 3 * (32 + 16) + 2 and sheet.shape[1] >= 5 * 32  # 3 rows of 5 glyphs over labels, framed
    glyphs = onehot.decode(onehot.encode_symbols(np.arange(12)))
    drawn = labelled_sheet(glyphs, [str(i) for i in range(12)], 5)
    assert np.array_equal(drawn[2:34, 2:34, 0], glyphs[0, :, :, 0])  # the glyph itself, unscaled
    assert (drawn[35:46, :, 0] < 128).any()  # label ink under the first row

    tiny(message="binary", msg_size=3).save(tmp_path / "bits")
    result = _cli("glyph-alphabet", tmp_path / "bits", "-o", tmp_path / "bits.png", "--json")
    assert result.exit_code == 0 and json.loads(result.output.splitlines()[-1])["symbols"] == 8
    tiny().save(tmp_path / "cont")
    result = _cli("glyph-alphabet", tmp_path / "cont", "-o", tmp_path / "x.png")
    assert result.exit_code == 2 and "continuous" in result.output and not (tmp_path / "x.png").exists()


def test_the_posts_experiments_small(tmp_path, one_thread):
    from zoo_glyphnet import experiments as ex

    model = tiny()
    images, labels = ex.load_images(model, None, "test", 24)
    assert images.shape == (24, 32, 32, 1) and labels.min() >= 0
    rec = ex.reconstruct(model, images, labels)
    assert rec["reconstructions"].shape == images.shape and rec["mse"] > 0 and "class_distance_ratio" in rec
    opt = ex.optimise(model, images[:4], steps=15)
    assert opt["mse_trained"] < opt["mse_start_trained"]  # gradient descent on the messages works
    assert opt["images_random"].shape == (4, 32, 32, 1)
    train = ex.load_images(model, None, "train", 60)
    probe = ex.probe(model, train, (images, labels), steps=20)
    assert 0 <= probe["accuracy_trained"] <= 1 and 1 <= probe["steps_to_95pct_random"] <= 20

    model.save(tmp_path / "m")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", images=rng.integers(0, 256, (40, 28, 28), dtype=np.uint8),
             labels=rng.integers(0, 3, 40))
    result = _cli("glyph-experiment", tmp_path / "m", "probe", "--data", tmp_path / "d.npz", "-n", 40, "--steps", 10,
                  "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["train_images"] == 32 and out["test_images"] == 8  # the file's last fifth is held out
    result = _cli("glyph-experiment", tmp_path / "m", "optimise", "-n", 4, "--steps", 3, "-o", tmp_path / "o.png")
    assert result.exit_code == 0 and (tmp_path / "o.png").is_file(), result.output
    result = _cli("glyph-experiment", tmp_path / "m", "reconstruct", "-o", tmp_path / "o.jpg")
    assert result.exit_code == 2 and "png" in result.output
