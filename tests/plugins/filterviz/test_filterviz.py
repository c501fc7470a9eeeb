"""The filter visualiser: layer listing, errors, gradient ascent on torch and keras models, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import zoo_core
import zoo_core.plugins
import zoo_filterviz
from zoo_cli.main import cli
from zoo_core.layers import ChannelError, UnknownLayerError
from zoo_filterviz.ascent import ascend, visualize
from zoo_filterviz.cli import add_commands
from zoo_filterviz.probes import parse_channels, probe_for
from zoo_filterviz.recipe import Recipe
from zoo_filterviz.transforms import Fourier, Warp, initial_images, snapshot_steps, total_variation
from helpers.clitools import invoke, one_error_line

add_commands(cli)  # what the register_commands hook does when `zoo` starts


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Small probes run fastest single-threaded (and do not fight other jobs for the 2 cores)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def glyph_cnn():
    zoo_core.plugins.reset()
    return zoo_core.load("glyph-cnn")


@pytest.fixture
def real_registry(monkeypatch):
    """The registry of the installed entry points (other tests may have replaced the global one)."""
    monkeypatch.delenv("ZOO_PLUGINS", raising=False)
    monkeypatch.setattr(zoo_core.plugins, "_registry", None)


# -- pure numpy pieces ------------------------------------------------------------------------


def test_parse_channels():
    assert parse_channels("0:4") == [0, 1, 2, 3]
    assert parse_channels("0:8:3,10") == [0, 3, 6, 10]
    assert parse_channels("all", 3) == [0, 1, 2]
    assert parse_channels("5:", 7) == [5, 6]
    with pytest.raises(ChannelError, match="valid: 0..3"):
        parse_channels("0:9", 4)
    with pytest.raises(ChannelError):
        parse_channels("x")


def test_transforms_are_exact_adjoints():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 20, 22, 2)).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    warp = Warp(x.shape, Recipe(jitter=2, rotate=10, scale_jitter=0.1), rng)
    assert np.isclose(np.sum(warp.forward(x) * g), np.sum(x * warp.adjoint(g)), rtol=1e-4)
    assert not np.allclose(warp.forward(x), x)
    for h, w in ((20, 22), (21, 19)):
        four = Fourier(h, w, 1.0)
        p = four.from_image(rng.standard_normal((2, h, w, 1)))
        gi = rng.standard_normal((2, h, w, 1))
        d = rng.standard_normal(p.shape) + 1j * rng.standard_normal(p.shape)
        numeric = np.sum(gi * (four.to_image(p + d) - four.to_image(p)))  # linear: exact up to float32
        analytic = np.sum(four.adjoint(gi).real * d.real + four.adjoint(gi).imag * d.imag)
        assert np.isclose(numeric, analytic, rtol=1e-3), (h, w)
    v, grad = total_variation(x)
    d = rng.standard_normal(x.shape)
    numeric = (total_variation(x + 1e-4 * d)[0] - total_variation(x - 1e-4 * d)[0]) / 2e-4
    assert np.allclose(numeric, np.sum(grad * d, axis=(1, 2, 3)), rtol=1e-3)


def test_initial_images_are_standardised_multiscale_noise():
    rng = np.random.default_rng(0)
    fine = initial_images(4, (28, 28, 1), (1.0,), (1.0,), rng)
    coarse = initial_images(4, (28, 28, 1), (0.11,), (1.0,), rng)
    for im in (fine, coarse):
        assert np.allclose(im.mean(axis=(1, 2, 3)), 0, atol=1e-5) and np.allclose(im.std(axis=(1, 2, 3)), 1, atol=1e-4)
    # neighbouring pixels of long-wavelength noise are strongly correlated, of pixel noise not
    corr = [np.corrcoef(im[:, :, 1:].ravel(), im[:, :, :-1].ravel())[0, 1] for im in (fine, coarse)]
    assert corr[0] < 0.3 < 0.9 < corr[1]
    assert snapshot_steps(600) == [0, 9, 18, 36, 72, 144, 288, 599]


# -- torch --------------------------------------------------------------------------------------


def _torch_net(dead_channel: bool = False):
    import torch
    from torch import nn

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(6, 5, 3, padding=1), nn.BatchNorm2d(5), nn.ReLU(), nn.Flatten())
    if dead_channel:
        with torch.no_grad():
            net[3].weight[0].zero_()
            net[3].bias[0] = -1.0
            net[4].eval()
    return net


def test_torch_probe_layers_follow_activation_and_gradients_are_right():
    net = _torch_net()
    probe = probe_for(net, input_shape=(1, 16, 16))
    infos = probe.layers()
    assert [(i.name, i.kind, i.output_shape) for i in infos] == [("0", "Conv2d", (16, 16, 6)),
                                                                 ("3", "Conv2d", (8, 8, 5))]
    x = initial_images(2, (16, 16, 1), (0.25, 1.0), (0.5, 0.5), np.random.default_rng(0))
    maps = probe.activations(x, "3")
    assert maps.shape == (2, 8, 8, 5) and maps.min() >= 0.0  # read after BatchNorm + ReLU
    values, grads = probe.value_and_grad(x, "3", [1, 4])
    assert np.allclose(values, maps.mean(axis=(1, 2))[[0, 1], [1, 4]], rtol=1e-5)
    d = np.random.default_rng(3).standard_normal(x.shape).astype(np.float32)
    up, _ = probe.value_and_grad(x + 1e-3 * d, "3", [1, 4])
    down, _ = probe.value_and_grad(x - 1e-3 * d, "3", [1, 4])
    assert np.allclose((up - down) / 2e-3, np.sum(grads * d, axis=(1, 2, 3)), rtol=0.05, atol=1e-4)


def test_dead_map_is_detected_and_retried_with_longer_scales():
    probe = probe_for(_torch_net(dead_channel=True), input_shape=(1, 16, 16))
    res = ascend(probe, "3", [0, 1], Recipe.seed(steps=40, retries=2), seed=0)
    assert res.dead.tolist() == [True, False]
    assert res.attempts.tolist() == [3, 1]
    assert res.final[1] > res.start[1]


def test_glyph_cnn_layers_and_errors(runner, real_registry):
    out = invoke(runner, "layers", "glyph-cnn")
    assert out.exit_code == 0, out.output
    assert "conv_3" in out.output and "7x7x64" in out.output and "input 28x28x1" in out.output
    data = json.loads(invoke(runner, "layers", "glyph-cnn", "--json").output)
    assert [layer["name"] for layer in data["layers"]] == ["conv_1", "conv_2", "conv_3", "logits"]
    line = one_error_line(invoke(runner, "visualize", "glyph-cnn", "--layer", "conv_9", "-o", "x.png"))
    assert "unknown layer 'conv_9'" in line and "valid layers: conv_1, conv_2, conv_3, logits" in line
    line = one_error_line(invoke(runner, "visualize", "glyph-cnn", "--layer", "conv_3", "--channels", "60:70",
                                 "-o", "x.png"))
    assert "valid: 0..63" in line
    line = one_error_line(invoke(runner, "visualize", "glyph-cnn", "--layer", "conv_3", "--channels", "64",
                                 "-o", "x.png"))
    assert "channel 64 is out of range" in line and "valid: 0..63" in line
    line = one_error_line(invoke(runner, "activations", "glyph-cnn", "--image", __file__, "--layer", "nope",
                                 "-o", "x.png"))
    assert "valid layers:" in line


def test_glyph_cnn_activation_rises_quickly(glyph_cnn):
    probe = probe_for(glyph_cnn)
    res = ascend(probe, "conv_3", [0, 1, 2, 3, 4, 5], Recipe.default(steps=40), seed=1)
    assert (res.final > 3 * np.maximum(res.start, 1e-3)).sum() >= 5, (res.start, res.final)
    plain = ascend(probe, "conv_3", [0, 1, 2], Recipe.seed(steps=25, epsilon=0.05), seed=1)
    assert (plain.final > plain.start).all()


def test_glyph_cnn_evaluates_above_threshold(runner, real_registry):
    out = invoke(runner, "eval", "glyph-cnn", "--json")
    assert out.exit_code == 0, out.output
    metrics = json.loads(out.output)
    assert metrics["accuracy"] >= 0.9 and metrics["images"] == 2000


def test_glyph_cnn_sample_is_class_maximising_uint8(glyph_cnn):
    glyph_cnn.config["sample_steps"] = 40
    try:
        images = glyph_cnn.sample(4, seed=0)
    finally:
        glyph_cnn.config["sample_steps"] = 200
    assert images.dtype == np.uint8 and images.shape == (4, 28, 28, 1)
    logits = glyph_cnn.predict(images)
    assert (logits.argmax(1) == np.arange(4)).sum() >= 3  # the pattern of class k is classified as k


def test_visualize_cli_with_snapshots_and_activations(runner, real_registry, tmp_path):
    out_png = tmp_path / "filters.png"
    res = invoke(runner, "visualize", "glyph-cnn", "--layer", "conv_2", "--channels", "0:3", "--steps", "20",
                 "--snapshots", "--size", "28", "-o", str(out_png))
    assert res.exit_code == 0, res.output
    import re

    fired = re.search(r"(\d+)/3 channels >= 10x", res.output)
    assert fired and int(fired.group(1)) >= 2, res.output
    grid = np.asarray(Image.open(out_png))
    assert grid.shape == (2 + 2 * 30, 2 + 2 * 30)  # 3 tiles of 28 in a 2x2 grid
    strip = np.asarray(Image.open(tmp_path / "filters-snapshots.png"))
    cols = len(snapshot_steps(20))
    assert strip.shape == (2 + 3 * 30, 2 + cols * 30)
    row = strip[2:30, 2:2 + cols * 30]
    tiles = [row[:, k * 30:k * 30 + 28].astype(int) for k in range(cols)]
    assert np.abs(tiles[0] - tiles[-1]).mean() > 5  # the pattern evolved
    # activations of one glyph image
    from zoo_core.data.datasets import load_dataset

    images, _ = load_dataset("glyphs-28", "test", n=1)
    Image.fromarray(images[0, :, :, 0]).save(tmp_path / "digit.png")
    res = invoke(runner, "activations", "glyph-cnn", "--image", str(tmp_path / "digit.png"), "--layer", "conv_2",
                 "-o", str(tmp_path / "maps.png"))
    assert res.exit_code == 0, res.output
    maps = np.asarray(Image.open(tmp_path / "maps.png"))
    assert maps.shape == (2 + 8 * 58, 2 + 8 * 58)  # 64 maps of 14x14 upscaled to 56
    assert "strongest channels" in res.output


def test_python_api_visualize(glyph_cnn):
    images = zoo_filterviz.visualize(glyph_cnn, "conv_1", "0:2", steps=10)
    assert images.dtype == np.uint8 and images.shape == (2, 28, 28, 1)
    with pytest.raises(UnknownLayerError, match="valid layers"):
        visualize(glyph_cnn, "conv_7", [0])


# -- keras ------------------------------------------------------------------------------------


class TinyKeras(zoo_core.ZooModel):
    """A zoo model around a tiny functional keras conv net (stands in for the VAE encoder)."""

    def __init__(self, config, family=None):
        super().__init__(config, family)
        import keras

        keras.utils.set_random_seed(0)
        inp = keras.Input((16, 16, 1))
        x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv_a")(inp)
        x = keras.layers.MaxPooling2D()(x)
        x = keras.layers.Conv2D(5, 3, padding="same", activation="relu", name="conv_b")(x)
        self.encoder = keras.Model(inp, keras.layers.GlobalAveragePooling2D()(x))

    def keras_models(self):
        return {"encoder": self.encoder}

    def state_dict(self):
        return {f"w{i}": np.asarray(w) for i, w in enumerate(self.encoder.get_weights())}


class TinyKerasPlugin:
    name = "tinykeras"

    @zoo_core.hookimpl
    def register_families(self, register):
        register(zoo_core.Family(name="tinykeras", framework="keras", factory=TinyKeras))


def test_keras_probe_and_cli(runner, monkeypatch, tmp_path):
    from helpers.toyplugin import make_registry

    make_registry(TinyKerasPlugin(), monkeypatch=monkeypatch)
    model = zoo_core.build("tinykeras")
    probe = probe_for(model)
    assert probe.framework == "keras" and probe.input_shape == (16, 16, 1)
    assert [(i.name, i.kind, i.output_shape) for i in probe.layers()] == [("conv_a", "Conv2D", (16, 16, 6)),
                                                                          ("conv_b", "Conv2D", (8, 8, 5))]
    x = initial_images(2, (16, 16, 1), (0.25, 1.0), (0.5, 0.5), np.random.default_rng(0))
    values, grads = probe.value_and_grad(x, "conv_b", [0, 3])
    # the same network written out in torch (float64): same values, same input gradients
    import torch
    import torch.nn.functional as F

    (wa, ba), (wb, bb) = (model.encoder.get_layer(n).get_weights() for n in ("conv_a", "conv_b"))
    t = lambda a: torch.tensor(a, dtype=torch.float64)  # noqa: E731
    xt = torch.tensor(x.transpose(0, 3, 1, 2), dtype=torch.float64, requires_grad=True)
    hid = F.max_pool2d(torch.relu(F.conv2d(xt, t(wa.transpose(3, 2, 0, 1)), t(ba), padding=1)), 2)
    out = torch.relu(F.conv2d(hid, t(wb.transpose(3, 2, 0, 1)), t(bb), padding=1))
    ref = out[[0, 1], [0, 3]].mean(dim=(1, 2))
    ref.sum().backward()
    assert np.allclose(values, ref.detach().numpy(), rtol=1e-4)
    assert np.allclose(grads, xt.grad.numpy().transpose(0, 2, 3, 1), atol=1e-6)
    res = ascend(probe, "conv_b", [0, 1, 2, 3, 4], Recipe.default(steps=30), seed=0)
    assert (res.final > 2 * np.maximum(res.start, 1e-3)).sum() >= 4, (res.start, res.final)
    out = invoke(runner, "layers", "tinykeras")
    assert out.exit_code == 0 and "conv_b" in out.output and "keras" in out.output
    out = invoke(runner, "visualize", "tinykeras", "--layer", "conv_b", "--channels", "0:5", "--steps", "15",
                 "--size", "16", "-o", str(tmp_path / "k.png"))
    assert out.exit_code == 0, out.output
    assert np.asarray(Image.open(tmp_path / "k.png")).shape == (2 + 2 * 18, 2 + 3 * 18)
    out = invoke(runner, "visualize", "tinykeras", "--layer", "conv_a", "--steps", "5", "-o", str(tmp_path / "a.npy"))
    assert out.exit_code == 0 and np.load(tmp_path / "a.npy").shape == (6, 16, 16, 1)  # default: up to 16
    line = one_error_line(invoke(runner, "visualize", "tinykeras", "--layer", "conv_c", "-o", "k.png"))
    assert "valid layers: conv_a, conv_b" in line


def test_vae_encoder_is_inspectable_through_the_cli(runner, real_registry, tmp_path):
    """The project's own keras VAE: its encoder's conv maps, read after BatchNorm + LeakyReLU."""
    out = invoke(runner, "layers", "vae-glyphs-28")
    assert out.exit_code == 0, out.output
    assert "enc_conv2" in out.output and "7x7x128" in out.output and "keras" in out.output
    out = invoke(runner, "visualize", "vae-glyphs-28", "--layer", "enc_conv2", "--channels", "0:4", "--steps", "30",
                 "--size", "28", "-o", str(tmp_path / "vae.npy"))
    assert out.exit_code == 0, out.output
    patterns = np.load(tmp_path / "vae.npy")
    assert patterns.shape == (4, 28, 28, 1) and patterns.dtype == np.uint8 and patterns.std() > 20


def test_glyphnet_decoder_through_the_same_command(runner, real_registry, tmp_path):
    """The torch glyphnet decoder (a Conv2d stack), via its torch_modules(); fresh weights of the family."""
    out = invoke(runner, "layers", "glyphnet")
    assert out.exit_code == 0, out.output
    assert "input 64x64x1" in out.output and "8x8x64" in out.output
    out = invoke(runner, "visualize", "glyphnet", "--layer", "6", "--channels", "0:4", "--steps", "20",
                 "-o", str(tmp_path / "g.npy"))
    assert out.exit_code == 0, out.output
    assert np.load(tmp_path / "g.npy").shape == (4, 64, 64, 1)


def test_help_and_listing_import_no_framework():
    from helpers.clitools import imported_frameworks

    for args in (("--help",), ("visualize", "--help"), ("list",)):
        heavy, output = imported_frameworks(*args)
        assert heavy == [], (args, heavy, output)
