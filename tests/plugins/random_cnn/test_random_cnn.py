"""Tests of the random-CNN plugin: config checks, the architecture search, contrast, reproducibility,
save/load and the grid command.

The search is pure python and is checked on all 120 cells of the seed's 256x256 grid; building and
sampling (Keras) use small images, plus a few 256x256 cells including the grid's corners.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

import zoo_core
from zoo_core.errors import ConfigError, NotTrainableError, ZooError
from zoo_random_cnn import architecture as A

from helpers.clitools import run_zoo
from helpers.slowness import scaled

STD_MIN = 10 / 255  # the contrast floor for an 8-bit image
GRID_256 = A.grid_cells(256, 256, 1)  # (s, q, soph_bits, noise_bits), 120 cells
TOTAL_256 = A.uncompressed_bits(256, 256, 1)
SMALL = dict(height=64, width=64, channels=1, soph=0.25, noise=0.0625)


def needs_keras():
    pytest.importorskip("keras")
    pytest.importorskip("tensorflow")


def grid_model(s: int, q: int, seed: int = 0):
    """The model of cell (s, q) of the 256x256 grey grid, built through the public API."""
    step = (TOTAL_256 - 2) // 16
    return zoo_core.build("random-cnn", height=256, width=256, channels=1, soph=s * step / TOTAL_256,
                          noise=q * step / TOTAL_256, seed=seed)


def image_std(images: np.ndarray) -> float:
    """Smallest per-image standard deviation of uint8 images, on the [0, 1] scale."""
    return min(float((im / 255.0).std()) for im in images)


# -- config validation (no keras needed) -------------------------------------------------------


@pytest.mark.parametrize("overrides, fragment", [
    (dict(soph=0.7, noise=0.5), "exceeds 1"),
    (dict(soph=0.0), "must be > 0"),
    (dict(noise=0.0), "must be > 0"),
    (dict(soph=1.5), "above the maximum"),
    (dict(kernel_size=6), "even"),
    (dict(bits_per_weight=0), "below the minimum"),
    (dict(height=16, width=16, soph=0.01, noise=0.01), "no random-CNN architecture"),
    (dict(height=64, width=64, channels=3, soph=3071 / 49152, noise=3071 / 49152), "nearest has 441 weights"),
    (dict(sophistication=0.2), "unknown config key"),
])
def test_config_errors_are_one_line(overrides, fragment):
    with pytest.raises(ConfigError) as info:
        zoo_core.build("random-cnn", **overrides)
    message = str(info.value)
    assert fragment in message and "\n" not in message


def test_family_is_light_and_counts_parameters_without_keras():
    code = ("import sys, zoo_core\n"
            "f = zoo_core.get_family('random-cnn')\n"
            "print(f.count_parameters(zoo_core.entry_config(zoo_core.get_entry('random-cnn-256'))))\n"
            "print('HEAVY=' + ','.join(m for m in ('numpy', 'keras', 'tensorflow') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=scaled(60))
    assert out.returncode == 0, out.stderr
    count, heavy = out.stdout.strip().splitlines()
    arch = A.search(256, 256, 1, 0.25, 0.0625)
    assert int(count) == arch.parameters
    assert heavy == "HEAVY="  # neither numpy nor keras was imported


def test_other_keras_backend_is_a_one_line_error(tmp_path):
    from helpers.clitools import assert_one_line_error, run_zoo

    out = run_zoo("sample", "random-cnn-256", "-o", str(tmp_path / "x.png"), env={"KERAS_BACKEND": "jax"})
    assert_one_line_error(out, "family 'random-cnn' needs the TensorFlow Keras backend, but KERAS_BACKEND='jax'")


# -- the architecture search (pure python) -----------------------------------------------------


def test_qlaplace_levels_are_the_seeds_quantiles():
    levels = A.qlaplace_levels(5, 2.0)
    assert len(levels) == 33 and levels[16] == 0.0
    assert levels == sorted(levels) and all(math.isclose(a, -b) for a, b in zip(levels, reversed(levels)))
    assert math.isclose(levels[0], 2.0 * math.log(2 / 34))  # the lowest quantile, 1/34
    mean_square = sum(v * v for v in A.qlaplace_levels(5, 1.0)) / 33
    assert math.isclose(mean_square, A.laplace_variance(5))


def test_seed_depth_factor_bisection_spends_the_budget():
    for depth in (1, 3, 10):
        f = A.depth_to_factor(20000, 7, depth, 1)
        spent = A.number_of_weights(7, depth, f, 1)
        assert spent <= 20000 and spent > 0.99 * 20000
    assert A.depth_to_factor(100, 7, 3, 1) is None  # 3 layers of 49 weights do not fit in 100


def test_search_on_every_cell_of_the_256_grid():
    assert len(GRID_256) == 120
    for s, q, soph_bits, noise_bits in GRID_256:
        arch = A.search_bits(256, 256, 1, soph_bits, noise_bits)
        assert A.RATIO_LOW <= arch.ratio <= A.RATIO_HIGH, (s, q, arch.describe())
        # the seed's own (depth, blocks) choice is kept on this grid
        assert arch.seed_choice == A.SeedChoice(arch.depth, arch.numblocks), (s, q)
        assert arch.conv_channels[-1] == 1 and arch.conv_blocks[-1] == arch.numblocks - 1
        assert list(arch.conv_blocks) == sorted(arch.conv_blocks)
        assert all(b - a <= 1 for a, b in zip(arch.conv_blocks, arch.conv_blocks[1:]))
        widths = (arch.input_shape[2],) + arch.conv_channels
        assert list(widths) == sorted(widths, reverse=True)  # decaying toward the image
        h, w, d = arch.input_shape
        assert h * 2 ** (arch.numblocks - 1) == 256 and d == max(noise_bits // (h * w), 1)
        assert arch.input_bits <= noise_bits


def test_search_fixes_cells_where_the_seed_has_no_architecture():
    fixed = 0
    for s, q, soph_bits, noise_bits in A.grid_cells(32, 32, 1):
        if A.adhoc_params(soph_bits, noise_bits, 32, 1) is None:
            try:
                arch = A.search_bits(32, 32, 1, soph_bits, noise_bits)
            except A.NoArchitecture:
                continue
            assert A.RATIO_LOW <= arch.ratio <= A.RATIO_HIGH
            fixed += 1
    assert fixed >= 5


def test_search_of_the_64_grid_and_rectangles():
    for s, q, soph_bits, noise_bits in A.grid_cells(64, 64, 1):
        assert A.RATIO_LOW <= A.search_bits(64, 64, 1, soph_bits, noise_bits).ratio <= A.RATIO_HIGH
    arch = A.search(48, 40, 1, 0.25, 0.125)
    assert arch.input_shape[:2] == (24, 20)


# -- models (keras) ----------------------------------------------------------------------------


@pytest.mark.parametrize("s, q", [(1, 1), (1, 15), (15, 1), (8, 8), (13, 3), (2, 1)])
def test_grid_cells_at_256_have_contrast_and_the_budgeted_size(s, q):
    needs_keras()
    model = grid_model(s, q)
    budget = s * ((TOTAL_256 - 2) // 16) / 5
    assert 0.8 <= model.num_parameters / budget <= 1.05
    images = model.sample(1, seed=0)
    assert images.shape == (1, 256, 256, 1) and images.dtype == np.uint8
    assert image_std(images) >= STD_MIN


def test_small_grid_cells_have_contrast():
    needs_keras()
    total = A.uncompressed_bits(64, 64, 1)
    for s, q, soph_bits, noise_bits in A.grid_cells(64, 64, 1)[::7]:
        model = zoo_core.build("random-cnn", height=64, width=64, soph=soph_bits / total,
                               noise=noise_bits / total, seed=3)
        assert image_std(model.sample(2, seed=5)) >= STD_MIN, (s, q)


def test_output_has_16_levels_and_weights_are_quantized_laplace():
    needs_keras()
    model = zoo_core.build("random-cnn", **SMALL)
    images = model.sample(4, seed=0)
    assert set(np.unique(images).tolist()) <= {17 * k for k in range(16)}
    assert len(np.unique(images)) >= 8
    arch = model.architecture
    state = model.state_dict()
    assert set(state) == {f"conv2d_{i + 1}/kernel" for i in range(arch.depth)}
    for i, (shape, scale) in enumerate(zip(arch.kernel_shapes, arch.laplace_scales)):
        kernel = state[f"conv2d_{i + 1}/kernel"]
        assert kernel.shape == shape and kernel.dtype == np.float32
        allowed = np.asarray(A.qlaplace_levels(5, scale), dtype=np.float32)
        assert np.isin(kernel, allowed).all()
        assert len(np.unique(kernel)) > 20 or kernel.size < 100
    assert model.num_parameters == arch.parameters == zoo_core.get_family("random-cnn").count_parameters(
        model.config)


def test_inputs_are_binary_with_the_searched_shape():
    needs_keras()
    model = zoo_core.build("random-cnn", **SMALL)
    z = model.noise(3, seed=2)
    assert z.shape == (3, *model.architecture.input_shape)
    assert set(np.unique(z).tolist()) == {0.0, 1.0}
    np.testing.assert_array_equal(model.generate(z), model.sample(3, seed=2))


def test_same_seed_same_bytes_and_seeds_matter():
    needs_keras()
    a = zoo_core.build("random-cnn", **SMALL, seed=11)
    np.random.seed(123)  # numpy's global state must not matter
    b = zoo_core.build("random-cnn", **SMALL, seed=11)
    for name, tensor in a.state_dict().items():
        np.testing.assert_array_equal(tensor, b.state_dict()[name])
    first = a.sample(5, seed=4)
    assert first.tobytes() == b.sample(5, seed=4).tobytes()
    assert first.tobytes() == a.sample(5, seed=4).tobytes()
    assert first.tobytes() != a.sample(5, seed=5).tobytes()
    c = zoo_core.build("random-cnn", **SMALL, seed=12)
    assert first.tobytes() != c.sample(5, seed=4).tobytes()


def test_save_and_load_round_trip(tmp_path):
    needs_keras()
    model = zoo_core.build("random-cnn", **{**SMALL, "channels": 3, "seed": 5})
    model.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "config.json").read_text())
    assert meta["family"] == "random-cnn" and meta["config"]["seed"] == 5
    loaded = zoo_core.load_directory(tmp_path / "m")
    assert loaded.sample(3, seed=9).tobytes() == model.sample(3, seed=9).tobytes()
    # the weights really come from the file: load them into a model drawn with another seed
    other = zoo_core.build("random-cnn", **{**SMALL, "channels": 3, "seed": 6})
    assert other.sample(1, seed=9).tobytes() != model.sample(1, seed=9).tobytes()
    other.load_weights(tmp_path / "m" / "model.safetensors")
    assert other.sample(3, seed=9).tobytes() == model.sample(3, seed=9).tobytes()
    assert zoo_core.load(str(tmp_path / "m")).sample(1, seed=0).tobytes() == model.sample(1, seed=0).tobytes()


def test_train_is_refused():
    needs_keras()
    model = zoo_core.build("random-cnn", **SMALL)
    with pytest.raises(NotTrainableError):
        model.train(steps=1)


def test_catalog_models_build_and_sample():
    needs_keras()
    names = [m.name for m in zoo_core.list_models("random-cnn*")]
    assert {"random-cnn-256", "random-cnn-128-rgb"} <= set(names)
    model = zoo_core.build("random-cnn-256")
    images = model.sample(2, seed=1)
    assert images.shape == (2, 256, 256, 1) and image_std(images) >= STD_MIN
    assert model.image_shape == (256, 256, 1)
    rgb = zoo_core.load("random-cnn-128-rgb")
    colour = rgb.sample(1, seed=1)
    assert colour.shape == (1, 128, 128, 3) and image_std(colour) >= STD_MIN


def test_rectangular_images_are_cropped_to_size():
    needs_keras()
    model = zoo_core.build("random-cnn", height=48, width=40, soph=0.25, noise=0.125)
    assert model.sample(2, seed=0).shape == (2, 48, 40, 1)


# -- the grid command --------------------------------------------------------------------------


def test_grid_command_is_listed_and_documented():
    proc = run_zoo("random-cnn-grid", "--help", timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "noise grows to the right" in proc.stdout and "--height" in proc.stdout


def test_grid_command_draws_the_triangle(tmp_path):
    needs_keras()
    from click.testing import CliRunner
    from PIL import Image

    from zoo_random_cnn.commands import grid_command

    out = tmp_path / "grid.png"
    result = CliRunner().invoke(grid_command, ["-o", str(out), "--n", "4", "--height", "16", "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert "(1, 3)" in result.output  # 16x16 with soph = 1 step cannot fit noise = 3 steps
    grid = np.asarray(Image.open(out))
    margin, cell = 14, 16 + 2

    def block(s, q):
        top, left = margin + (s - 1) * cell, margin + (q - 1) * cell
        return grid[top:top + 16, left:left + 16]

    assert grid.shape == (margin + 3 * cell, margin + 3 * cell)
    assert block(1, 1).std() > 10 and block(2, 2).std() > 10 and block(3, 1).std() > 10
    assert (block(2, 3) == 255).all() and (block(3, 3) == 255).all()  # beyond the anti-diagonal
    assert (block(1, 3) == 255).all()  # no architecture: left white


def test_grid_command_rejects_other_formats(tmp_path):
    from click.testing import CliRunner

    from zoo_random_cnn.commands import grid_command

    result = CliRunner().invoke(grid_command, ["-o", str(tmp_path / "g.jpg")])
    assert result.exit_code != 0 and isinstance(result.exception, ZooError)


# -- the information measure ---------------------------------------------------------------------

FIXED = dict(height=32, width=32, channels=1, soph=0.25, noise=0.0625, seed=0)


def test_coders_on_images_with_known_content():
    from zoo_random_cnn import information as I

    assert I.pack_nibbles(np.array([[[1], [2]], [[15], [0]]], np.uint8)) == bytes([0x12, 0xF0])
    assert I.pack_nibbles(np.array([1, 2, 3], np.uint8)) == bytes([0x12, 0x30])
    flat = np.full((64, 64, 1), 7 * 17, np.uint8)
    noise = (np.random.default_rng(0).integers(0, 16, (64, 64, 1)) * 17).astype(np.uint8)
    raw = 64 * 64 * 4
    for coder, bits in I.compressed_bits(flat).items():
        assert bits < 0.05 * raw, coder  # one repeated value: headers and little else
    for coder, bits in I.compressed_bits(noise).items():
        assert bits > 0.97 * raw, coder  # i.i.d. 4-bit noise cannot be compressed
    colour = (np.random.default_rng(1).integers(0, 16, (16, 16, 3)) * 17).astype(np.uint8)
    assert set(I.compressed_bits(colour)) == {"lzma", "png", "webp"}
    with pytest.raises(ValueError, match="multiples of 17"):
        I.compressed_bits(np.full((8, 8, 1), 5, np.uint8))


def test_rank_correlation_known_values():
    from zoo_random_cnn.information import rank_correlation

    assert rank_correlation([1, 2, 3, 4], [10, 20, 30, 1000]) == pytest.approx(1.0)
    assert rank_correlation([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # ranks with a tie: x -> 1, 2, 3; y = [1, 1, 2] -> 1.5, 1.5, 3; Pearson of the ranks = sqrt(3) / 2
    assert rank_correlation([1, 2, 3], [1, 1, 2]) == pytest.approx(math.sqrt(3) / 2)


def test_information_of_a_fixed_small_model():
    needs_keras()
    model = zoo_core.build("random-cnn", **FIXED)
    arch = model.architecture
    assert (arch.parameters, arch.input_bits) == (196, 256)  # 4 convs of 7x7x1x1, a 16x16x1 input
    info = model.evaluate(seed=0)
    assert info["images"] == 4
    assert (info["uncompressed_bits"], info["soph_bits"], info["noise_bits"], info["soph_plus_noise_bits"]) == \
        (4096, 1024, 256, 1280)
    assert info["soph_plus_noise_frac"] == 0.3125
    assert info["model_bound_bits"] == pytest.approx(196 * math.log2(33) + 256)  # 1244.70
    assert info["model_bound_frac"] == pytest.approx(1244.7012 / 4096)
    # the coders' sizes measured when the test was written (liblzma, zlib, libwebp): 1782, 2024, 1512 bits
    for coder, bits in (("lzma", 1782), ("png", 2024), ("webp", 1512)):
        assert info[f"{coder}_bits"] == pytest.approx(bits, rel=0.1), coder
        assert info[f"{coder}_frac"] == pytest.approx(info[f"{coder}_bits"] / 4096)
    assert info["best_coder_bits"] == min(info["lzma_bits"], info["png_bits"], info["webp_bits"])
    assert info["information_bound_bits"] == min(info["best_coder_bits"], info["model_bound_bits"])
    assert info["std8_min"] >= 10
    assert model.evaluate(seed=0) == info  # deterministic


@pytest.mark.slow
def test_eval_command_prints_the_information_table(tmp_path):
    needs_keras()
    zoo_core.build("random-cnn", **FIXED).save(tmp_path / "m")
    out = run_zoo("eval", str(tmp_path / "m"), "--json", timeout=120)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["soph_plus_noise_bits"] == 1280 and info["uncompressed_bits"] == 4096
    assert {"lzma_frac", "png_frac", "webp_frac", "model_bound_frac"} <= set(info)


# -- random splits -------------------------------------------------------------------------------


def test_random_split_is_the_notebooks_and_seeded():
    from zoo_random_cnn import random_split

    draws = [random_split(1000, seed) for seed in range(2000)]
    assert draws[0] == random_split(1000, 0) and len(set(draws[:50])) == 50
    for soph, noise, redundancy in draws:
        assert soph >= 1 and noise >= 1 and redundancy >= 1 and soph + noise + redundancy == 1000
    # two uniform cut points: each of the three parts has mean 1/3 of the bits
    for part in range(3):
        assert abs(np.mean([d[part] for d in draws]) / 1000 - 1 / 3) < 0.02
    with pytest.raises(ConfigError):
        random_split(2, 0)


def test_split_random_config_draws_the_budgets_from_the_seed():
    from zoo_random_cnn import architecture_of, budgets, random_split

    family = zoo_core.get_family("random-cnn")
    config = family.config.resolve({"height": 256, "width": 256, "split": "random", "seed": 0})
    assert budgets(config) == random_split(262144, 0)[:2] == (20349, 68027)
    assert budgets({**config, "soph": 0.9}) == budgets(config)  # soph and noise are not used
    arch = architecture_of(config)
    assert (arch.soph_bits, arch.noise_bits) == (20349, 68027)
    assert architecture_of(family.config.resolve({**config, "seed": 1})).soph_bits == 97385


@pytest.mark.slow
def test_sample_with_random_split_is_reproducible(tmp_path):
    needs_keras()
    model = zoo_core.build("random-cnn", height=64, width=64, split="random", seed=4)
    again = zoo_core.build("random-cnn", height=64, width=64, split="random", seed=4)
    assert model.budgets == again.budgets
    assert model.sample(2, seed=1).tobytes() == again.sample(2, seed=1).tobytes()
    other = zoo_core.build("random-cnn", height=64, width=64, split="random", seed=5)
    assert other.budgets != model.budgets
    out = run_zoo("sample", "random-cnn-256", "--set", "split=random", "--set", "seed=2", "-n", "1",
                  "-o", str(tmp_path / "s.npy"), timeout=scaled(120))
    assert out.returncode == 0, out.stderr
    assert np.load(tmp_path / "s.npy").shape == (1, 256, 256, 1)


def test_bad_split_is_a_one_line_error(tmp_path):
    from helpers.clitools import assert_one_line_error

    out = run_zoo("sample", "random-cnn-256", "--set", "split=halves", "-o", str(tmp_path / "x.png"))
    assert_one_line_error(out, "config key 'split'")


# -- the network ---------------------------------------------------------------------------------


def test_functional_keras_model_computes_the_eager_forward():
    needs_keras()
    for config in (dict(height=40, width=48, channels=3, soph=0.2, noise=0.05, seed=2),
                   dict(height=32, width=32, soph=0.3, noise=0.1, upsampling="nearest", smoothing="none"),
                   dict(height=32, width=32, soph=0.3, noise=0.1, smoothing="upsample")):
        model = zoo_core.build("random-cnn", **config)
        z = model.noise(2, seed=3)
        np.testing.assert_allclose(np.asarray(model.keras_model(z)), model.forward(z), atol=1e-5)
        weights = {v.path: v.numpy() for v in model.keras_model.weights}
        assert set(weights) == set(model.state_dict())
        for name, tensor in model.state_dict().items():
            np.testing.assert_array_equal(weights[name], tensor)


@pytest.mark.slow
def test_no_flat_cell_on_the_64_grid():
    needs_keras()
    total = A.uncompressed_bits(64, 64, 1)
    flat = []
    for s, q, soph_bits, noise_bits in A.grid_cells(64, 64, 1):
        model = zoo_core.build("random-cnn", height=64, width=64, soph=soph_bits / total, noise=noise_bits / total,
                               seed=0)
        std = model.sample(1, seed=0)[0].astype(np.float64).std()
        if std < 10:
            flat.append((s, q, round(std, 1)))
    assert flat == []


def test_grid_command_in_colour_with_information(tmp_path):
    needs_keras()
    from click.testing import CliRunner
    from PIL import Image

    from zoo_random_cnn.commands import grid_command

    out, table = tmp_path / "grid.png", tmp_path / "grid.json"
    result = CliRunner().invoke(grid_command, ["-o", str(out), "--n", "3", "--size", "48", "--channels", "3",
                                               "--info", str(table)])
    assert result.exit_code == 0, result.output
    assert "rank correlation with soph + noise" in result.output
    grid = np.asarray(Image.open(out))
    assert grid.shape == (14 + 2 * 50, 14 + 2 * 50, 3)
    cell = grid[14:14 + 48, 14:14 + 48]
    assert cell.std() > 10 and not (cell[..., 0] == cell[..., 1]).all()  # colour, with contrast
    data = json.loads(table.read_text())
    assert data["summary"]["cells"] == len(data["cells"]) == 3
    assert {c["uncompressed_bits"] for c in data["cells"]} == {48 * 48 * 3 * 4}


def test_grid_command_option_errors(tmp_path):
    from click.testing import CliRunner

    from zoo_random_cnn.commands import grid_command

    for args, fragment in ((["--serve", "-o", str(tmp_path / "g.png")], "--serve draws no grid"),
                           (["-o", " "], "-o/--output is empty"),
                           (["-o", str(tmp_path / "g.png"), "--info", str(tmp_path / "t.txt")], ".json"),
                           (["-o", str(tmp_path / "g.png"), "--set", "soph=0.1"], "cannot change soph")):
        result = CliRunner().invoke(grid_command, args)
        assert isinstance(result.exception, ZooError) and fragment in str(result.exception), (args, result.output)


def test_grid_command_without_o_writes_next_to_you_like_sample(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from zoo_random_cnn.commands import grid_command

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(grid_command, ["--n", "3", "--size", "32"])  # 16 px: no cell fits
    assert result.exit_code == 0, result.output
    assert (tmp_path / "random-cnn-grid.png").is_file()
