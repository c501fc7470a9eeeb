"""A generated corpus of bad inputs, and the runner that feeds them to zoo in child processes.

Each case is a dict: ``id``, ``group`` (the class of attack), ``kind`` (``cli``: the real click
command in-process through ``CliRunner``; ``api``: Python code; ``proc``: a fresh ``zoo``
process), ``args`` or ``code``, ``env``, ``outputs`` (paths that must not exist afterwards) and
``expect`` (``"error"``: one ``zoo: error:`` line on stderr, exit 2, no traceback; or a dict
with ``rc``/``stdout_has``/``stdout_lacks`` for cases where zoo must carry on).

The cases run in child interpreters under ``resource.setrlimit(RLIMIT_AS)``: the *light* child
(no deep-learning framework) with 2 GiB, so that a memory bomb that zoo did not refuse before
allocating fails the case; the *heavy* child (torch, TensorFlow) with 12 GiB. A per-case alarm
turns a hang into a failed case, and a child that dies is restarted after the case that killed it.

``python tests/helpers/badinput.py count ZOO_ROOT`` runs the corpus against the zoo checkout at
``ZOO_ROOT`` (e.g. an old commit in a temporary worktree) and prints per-group counts.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
LIGHT_AS = int(os.environ.get("BADINPUT_LIGHT_AS", 2 << 30))  # bytes of address space, no framework
HEAVY_AS = int(os.environ.get("BADINPUT_HEAVY_AS", 12 << 30))  # with torch and TensorFlow
try:  # imported as helpers.badinput, or run as a script (the child) from tests/helpers/
    from helpers.slowness import scaled_int
except ImportError:
    from slowness import scaled_int  # type: ignore[no-redef]

# seconds per case before it counts as a hang: 60 on a quiet machine, scaled by the measured slowness
CASE_TIMEOUT = int(os.environ.get("BADINPUT_CASE_TIMEOUT") or scaled_int(60))

# -- building the corpus -----------------------------------------------------------------------


def _npy_header(shape: tuple, descr: str = "<u1") -> bytes:
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape!r}, }}"
    header += " " * ((-len(header) - 11) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode()


def _safetensors(header: dict | bytes, data: bytes = b"") -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


def _zip_bomb(path: Path, chunks: int, chunk: int = 1 << 24) -> None:
    """A ``.npz`` whose one member honestly inflates to ``chunks * chunk`` zero bytes (a few seconds to write).

    The deflate stream of one zero chunk (ending in a full flush, so streams can follow each
    other) is computed once and repeated; zipfile still computes the true CRC and sizes.
    """
    import zipfile
    import zlib

    zeros = bytes(chunk)

    class RepeatDeflate:
        def __init__(self) -> None:
            self.block = b""

        def compress(self, data: bytes) -> bytes:
            if data is zeros and self.block:
                return self.block
            c = zlib.compressobj(1, zlib.DEFLATED, -15)
            out = c.compress(data) + c.flush(zlib.Z_FULL_FLUSH)
            if data is zeros:
                self.block = out
            return out

        def flush(self) -> bytes:
            return zlib.compressobj(1, zlib.DEFLATED, -15).flush()

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("images.npy", "w", force_zip64=True) as fh:
            fh._compressor = RepeatDeflate()
            fh.write(_npy_header((chunks, chunk)))
            for _ in range(chunks):
                fh.write(zeros)


def _toy_site(root: Path) -> Path:
    sys.path.insert(0, str(HERE.parent))
    from helpers import hub_server

    return hub_server.install_test_plugin(root / "site")


def _saved_model(folder: Path) -> dict:
    """A real saved ``toy`` model (numpy only); returns its config.json as a dict."""
    sys.path.insert(0, str(HERE.parent))
    from helpers.toyplugin import build_toy

    build_toy(seed=1).save(folder)
    return json.loads((folder / "config.json").read_text())


def build_corpus(root: Path, hub_url: str | None = None) -> list[dict]:
    """Write the corpus's files under ``root`` and return its cases."""
    import numpy as np

    root = Path(root)
    files = root / "files"
    files.mkdir(parents=True, exist_ok=True)
    out = root / "out"
    out.mkdir(exist_ok=True)
    cases: list[dict] = []

    def add(group: str, name: str, args: list | None = None, *, kind: str = "cli", env: dict | None = None,
            code: str | None = None, outputs: list | None = None, expect: object = "error",
            heavy: bool = False) -> None:
        cases.append({"id": f"{group}/{name}", "group": group, "kind": kind, "args": [str(a) for a in args or []],
                      "env": env or {}, "code": code, "outputs": [str(p) for p in outputs or []],
                      "expect": expect, "heavy": heavy})

    fifo = files / "fifo"
    os.mkfifo(fifo)

    # -- options and seeds: click's usage errors, one line ------------------------------------------
    png = out / "o.png"
    gif = out / "o.gif"
    for seed in ("-1", "-7", str(-2**40), str(2**70), "x", "1.5", "nan", ""):
        add("seeds", f"sample{seed}", ["sample", "glyphnet-32", "--seed", seed, "-o", png], outputs=[png])
        add("seeds", f"interpolate{seed}", ["interpolate", "glyphnet-32", "--seed", seed, "-o", gif],
            outputs=[gif])
        add("seeds", f"eval{seed}", ["eval", "glyphnet-32", "--seed", seed])
        add("seeds", f"reconstruct{seed}", ["reconstruct", "vae-glyphs-28", "--seed", seed, "-o", png],
            outputs=[png])
        add("seeds", f"visualize{seed}", ["visualize", "glyph-cnn", "-l", "conv_1", "--seed", seed, "-o", png],
            outputs=[png])
        add("seeds", f"grid{seed}", ["random-cnn-grid", "--seed", seed, "-o", png], outputs=[png])
    for flag, value in (("-n", "0"), ("-n", "-1"), ("-n", "x"), ("-n", "99999999"), ("-o", ""), ("--set", "")):
        add("options", f"sample{flag}{value}", ["sample", "glyphnet-32", flag, value] + (
            ["-o", png] if flag != "-o" else []), outputs=[png])
    for flag, value in (("--frames", "1"), ("--frames", "-5"), ("--points", "0"), ("--fps", "0"),
                        ("--path", "spiral"), ("-n", "0")):
        add("options", f"interpolate{flag}{value}", ["interpolate", "glyphnet-32", flag, value, "-o", gif],
            outputs=[gif])
    missing = root / "does-not-exist"
    add("options", "train-missing-data", ["train", "vae", "-o", out / "run1", "--data", missing],
        outputs=[out / "run1"])
    add("options", "eval-missing-data", ["eval", "vae-glyphs-28", "--data", missing])
    add("options", "train-steps0", ["train", "glyphnet", "-o", out / "run2", "--steps", "0"], outputs=[out / "run2"])
    add("options", "train-no-output", ["train", "glyphnet"])
    add("options", "unknown-option", ["list", "--bogus"])
    add("options", "unknown-command", ["bogus-command"])
    add("options", "missing-argument", ["sample"])
    add("options", "bad-suffix", ["sample", "glyphnet-32", "-o", out / "x.jpg"], outputs=[out / "x.jpg"])
    add("options", "svg-of-a-pixel-model", ["sample", "random-cnn-256", "-o", out / "x.svg"], outputs=[out / "x.svg"])
    add("options", "plugin-check-unknown", ["plugin", "check", "nosuchplugin"])
    add("options", "plugin-check-unknown2", ["plugin", "check", "glyphnet-32", "glyphnet-99"])
    add("options", "info-unknown", ["info", "no-such-model"])
    add("options", "retired-model", ["sample", "glyphnet-128-rgb", "-o", png], outputs=[png])
    add("options", "grid-n1", ["random-cnn-grid", "--n", "1", "-o", png], outputs=[png])
    add("options", "visualize-epsilon-nan", ["visualize", "glyph-cnn", "-l", "conv_1", "--epsilon", "nan",
                                            "-o", png], outputs=[png])
    add("options", "visualize-epsilon-neg", ["visualize", "glyph-cnn", "-l", "conv_1", "--epsilon", "-1",
                                            "-o", png], outputs=[png])
    add("options", "visualize-epsilon-inf", ["visualize", "glyph-cnn", "-l", "conv_1", "--epsilon", "inf",
                                            "-o", png], outputs=[png])
    add("options", "visualize-epsilon-zero", ["visualize", "glyph-cnn", "-l", "conv_1", "--epsilon", "0",
                                             "-o", png], outputs=[png])
    add("options", "visualize-channels-empty", ["visualize", "glyph-cnn", "-l", "conv_1", "--channels", ",",
                                               "-o", png], outputs=[png], heavy=True)
    add("options", "visualize-channels-reversed", ["visualize", "glyph-cnn", "-l", "conv_1", "--channels",
                                                  "5:3", "-o", png], outputs=[png], heavy=True)

    # -- config values: finite, bounded, typed ----------------------------------------------------
    sys.path.insert(0, str(HERE.parents[1]))
    import zoo_core

    for family in zoo_core.list_families():
        if family.plugin not in ("glyphnet", "random_cnn", "vae", "filterviz", "glyph_cnn"):
            continue
        for key, param in family.config.params.items():
            if param.type == "float":
                values = ["nan", "inf", "-inf", "1e300", "-1e300", "abc"]
            elif param.type == "int":
                values = ["-1" if (param.min or 0) >= 0 else "-99999999999", "9" * 25, "1.5", "nan", "0x"]
            elif param.type == "list":
                values = ["[-1]", "[" * 5000, "[1.5]", "[" + ",".join(["1"] * 500) + "]"]
            elif param.type == "bool":
                values = ["maybe"]
            else:
                values = ["\x00bad" if param.choices else None]
            for value in values:
                if value is None:
                    continue
                target = out / f"cfg-{family.name}-{key}.png"
                add("config", f"{family.name}:{key}={value[:12]}", ["sample", family.name, "--set",
                                                                    f"{key}={value}", "-o", target],
                    outputs=[target])
    add("config", "random-cnn:channels=2", ["sample", "random-cnn", "--set", "channels=2", "-o", png], outputs=[png])
    add("config", "random-cnn:height=4096", ["sample", "random-cnn", "--set", "height=4096", "--set", "width=4096",
                                             "-o", png], outputs=[png])
    add("config", "glyph-cnn:sample_steps=1e9", ["sample", "glyph-cnn", "--set", "sample_steps=1000000000",
                                                 "-o", png], outputs=[png])
    add("config", "set-no-equals", ["sample", "glyphnet-32", "--set", "lr", "-o", png], outputs=[png])
    add("config", "set-unknown-key", ["sample", "glyphnet-32", "--set", "nope=1", "-o", png], outputs=[png])
    add("config", "api-build-nan", kind="api", code="import zoo_core; zoo_core.build('glyphnet', lr=float('nan'))")
    add("config", "api-build-inf", kind="api", code="import zoo_core; zoo_core.build('vae', fact=float('inf'))")
    add("config", "api-build-bool", kind="api", code="import zoo_core; zoo_core.build('glyphnet', msg_size=True)")

    # -- catalogs (ZOO_REGISTRY): grammar, size, nesting, file type ------------------------------
    def catalog(name: str, models: list | None = None, raw: bytes | None = None) -> Path:
        path = files / f"catalog-{name}.json"
        path.write_bytes(raw if raw is not None else json.dumps({"models": models}).encode())
        return path

    good_sha = "0" * 64
    bad_sources = {
        "pkg-traversal": "pkg://zoo_glyphnet/../../../../etc/passwd",
        "pkg-absolute": "pkg://zoo_glyphnet//etc/passwd",
        "pkg-hidden": "pkg://zoo_glyphnet/.secret",
        "pkg-badpkg": "pkg://../zoo_glyphnet/weights/x",
        "hf-dots": "hf://../..@x",
        "hf-rev-traversal": "hf://org/repo@../../../tmp/x",
        "hf-double-dash": "hf://org--x/repo",
        "hf-git": "hf://org/repo.git",
        "hf-rev-lock": "hf://org/repo@main.lock",
        "file-dots": "file:///tmp/../etc/passwd",
        "file-encoded-dots": "file:///tmp/%2e%2e/etc/passwd",
        "file-host": "file://evil.example/x",
        "file-relative": "file://weights.safetensors",
    }
    bad_entries = {name: {"source": source, "sha256": good_sha} for name, source in bad_sources.items()}
    bad_entries.update({
        "sha-int": {"source": "pkg://zoo_glyphnet/weights/glyphnet-32.safetensors", "sha256": 12345},
        "sha-upper": {"source": "pkg://zoo_glyphnet/weights/glyphnet-32.safetensors", "sha256": "A" * 64},
    })
    for name, weights in bad_entries.items():
        path = catalog(name, [{"name": f"evil-{name}", "family": "glyphnet", "weights": weights}])
        add("catalog", name, ["list"], env={"ZOO_REGISTRY": str(path)})
    field_cases = {
        "name-traversal": {"name": "../../etc", "family": "glyphnet"},
        "name-upper": {"name": "Evil", "family": "glyphnet"},
        "family-traversal": {"name": "evil", "family": "../x"},
        "family-int": {"name": "evil", "family": 3},
        "description-newline": {"name": "evil", "family": "glyphnet", "description": "a\nzoo: error: fake"},
        "description-huge": {"name": "evil", "family": "glyphnet", "description": "x" * 100_000},
        "license-newline": {"name": "evil", "family": "glyphnet", "license": "MIT\n\x1b[31m"},
        "tags-many": {"name": "evil", "family": "glyphnet", "tags": ["t"] * 1000},
        "tags-control": {"name": "evil", "family": "glyphnet", "tags": ["\x1b[2J"]},
        "config-list": {"name": "evil", "family": "glyphnet", "config": []},
        "unknown-field": {"name": "evil", "family": "glyphnet", "url": "x"},
    }
    for name, entry in field_cases.items():
        add("catalog", name, ["list"], env={"ZOO_REGISTRY": str(catalog(name, [entry]))})
    add("catalog", "duplicate", ["list"], env={"ZOO_REGISTRY": str(catalog("dup", [
        {"name": "a", "family": "glyphnet"}, {"name": "a", "family": "glyphnet"}]))})
    add("catalog", "deep-nesting", ["list"], env={"ZOO_REGISTRY": str(catalog("deep", raw=b"[" * 100_000))})
    add("catalog", "deep-nesting-valid", ["list"], env={"ZOO_REGISTRY": str(catalog(
        "deep2", raw=b'{"models": [{"name": "a", "family": "glyphnet", "config": {"x": ' + b"[" * 500 + b"]" * 500
        + b"}}]}"))})
    add("catalog", "not-json", ["list"], env={"ZOO_REGISTRY": str(catalog("nj", raw=b"\xff\xfe garbage"))})
    add("catalog", "huge", ["list"], env={"ZOO_REGISTRY": str(catalog("huge", raw=b" " * (20 << 20) + b"{}"))})
    add("catalog", "dev-zero", ["list"], env={"ZOO_REGISTRY": "/dev/zero"})
    add("catalog", "fifo", ["list"], env={"ZOO_REGISTRY": str(fifo)})
    add("catalog", "folder", ["list"], env={"ZOO_REGISTRY": str(files)})
    add("catalog", "dev-zero-help", ["--help"], kind="proc", env={"ZOO_REGISTRY": "/dev/zero"},
        expect={"rc": 0, "stdout_has": ["Usage: zoo"]})
    add("catalog", "deep-help", ["--help"], kind="proc", env={"ZOO_REGISTRY": str(files / "catalog-deep.json")},
        expect={"rc": 0, "stdout_has": ["Usage: zoo"]})
    add("catalog", "api-dev-zero", kind="api", env={"ZOO_REGISTRY": "/dev/zero"},
        code="import zoo_core; zoo_core.list_models()")

    # -- saved model folders: config.json, sha256, safetensors ------------------------------------
    site = _toy_site(root)
    template = root / "template"
    meta = _saved_model(template)
    weights = (template / "model.safetensors").read_bytes()

    def saved(name: str, config: bytes | dict | None = None, blob: bytes | None = None,
              config_link: str | None = None, blob_link: str | None = None) -> Path:
        folder = files / f"saved-{name}"
        folder.mkdir()
        if config_link:
            os.symlink(config_link, folder / "config.json")
        else:
            data = config if config is not None else meta
            (folder / "config.json").write_bytes(data if isinstance(data, bytes) else json.dumps(data).encode())
        if blob_link:
            os.symlink(blob_link, folder / "model.safetensors")
        else:
            (folder / "model.safetensors").write_bytes(weights if blob is None else blob)
        return folder

    import hashlib

    def with_sha(blob: bytes) -> dict:
        return {**meta, "weights_sha256": hashlib.sha256(blob).hexdigest()}

    header = json.loads(weights[8:8 + struct.unpack("<Q", weights[:8])[0]])
    tensor = next(k for k in header if k != "__metadata__")
    forged = dict(header)
    forged[tensor] = {**header[tensor], "shape": [2**31, 2**31]}
    blobs = {
        "truncated": weights[:40],
        "empty": b"",
        "header-huge": struct.pack("<Q", 2**62) + b"{}",
        "header-past-end": struct.pack("<Q", 10_000) + b"{}",
        "header-not-json": _safetensors(b"\xff" * 16),
        "header-deep": _safetensors(b"[" * 50_000 + b"]" * 50_000),
        "header-list": _safetensors(b"[1, 2, 3]     "),
        "shape-forged": _safetensors(forged, weights[8 + struct.unpack("<Q", weights[:8])[0]:]),
        "offsets-outside": _safetensors({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 2**40]}}, b"\0" * 16),
        "dtype-unknown": _safetensors({"w": {"dtype": "X9", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 16),
        "negative-shape": _safetensors({"w": {"dtype": "F32", "shape": [-4], "data_offsets": [0, 16]}}, b"\0" * 16),
        "pickle": b"\x80\x04\x95" + b"\0" * 64,
        "zip": b"PK\x03\x04" + b"\0" * 64,
        "wrong-tensors": _safetensors({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 16),
    }
    for name, blob in blobs.items():
        folder = saved(f"w-{name}", config=with_sha(blob), blob=blob)
        add("saved", f"weights-{name}", ["sample", folder, "-o", out / f"w-{name}.png"],
            outputs=[out / f"w-{name}.png"])
    shas = {"int": 12345, "short": "abc", "upper": hashlib.sha256(weights).hexdigest().upper(), "missing": None,
            "list": [1], "wrong": "0" * 64, "bool": True, "nul": "\x00" * 64}
    for name, sha in shas.items():
        config = dict(meta)
        if sha is None:
            config.pop("weights_sha256")
        else:
            config["weights_sha256"] = sha
        folder = saved(f"sha-{name}", config=config)
        add("saved", f"sha256-{name}", ["sample", folder, "-o", out / f"s-{name}.png"],
            outputs=[out / f"s-{name}.png"])
    configs = {"not-json": b"{nope", "deep": b"[" * 100_000, "deep-config": json.dumps(
        {**meta, "config": {"a": 1}}).encode().replace(b'"a": 1', b'"a": ' + b"[" * 2000 + b"]" * 2000),
        "huge": b" " * (20 << 20) + json.dumps(meta).encode(), "list": b"[]", "no-family": b'{"config": {}}',
        "family-traversal": json.dumps({**meta, "family": "../../x"}).encode(), "binary": b"\x00\xff" * 100,
        "nan-config": json.dumps({**meta, "config": {**meta["config"], "size": float("nan")}}).encode()}
    for name, data in configs.items():
        folder = saved(f"c-{name}", config=data)
        add("saved", f"config-{name}", ["sample", folder, "-o", out / f"c-{name}.png"],
            outputs=[out / f"c-{name}.png"])
    for name, link in (("dev-zero", "/dev/zero"), ("fifo", str(fifo)), ("folder", str(files))):
        folder = saved(f"lc-{name}", config_link=link)
        add("saved", f"config-is-{name}", ["sample", folder, "-o", out / f"lc-{name}.png"],
            outputs=[out / f"lc-{name}.png"])
        folder = saved(f"lw-{name}", blob_link=link)
        add("saved", f"weights-is-{name}", ["sample", folder, "-o", out / f"lw-{name}.png"],
            outputs=[out / f"lw-{name}.png"])
        add("saved", f"api-weights-is-{name}", kind="api",
            code=f"from zoo_core.io.weights import load_tensors; load_tensors({str(folder / 'model.safetensors')!r})")
    add("saved", "api-sha-int", kind="api",
        code=f"import zoo_core; zoo_core.load({str(files / 'saved-sha-int')!r})")
    add("saved", "api-pins-dev-zero", kind="api", env={"XDG_DATA_HOME": str(files / "xdg-zero")},
        code="from zoo_core import hub; hub.read_pins()")
    (files / "xdg-zero" / "zoo").mkdir(parents=True)
    os.symlink("/dev/zero", files / "xdg-zero" / "zoo" / "hub-pins.json")

    # -- data: .npy / .npz / images, bounded before allocation -----------------------------------
    def data_case(name: str, path: Path) -> None:
        add("data", f"api-{name}", kind="api", code=f"from zoo_core.data.datasets import load_dataset; "
                                                    f"load_dataset({str(path)!r})")

    (files / "huge-header.npy").write_bytes(_npy_header((10**15,)) + b"\0" * 64)
    (files / "huge-2d.npy").write_bytes(_npy_header((10**6, 10**6, 3)) + b"\0" * 64)
    (files / "short.npy").write_bytes(_npy_header((100, 28, 28)) + b"\0" * 64)
    (files / "object.npy").write_bytes(_npy_header((4,), "|O") + b"\0" * 64)
    (files / "bad-magic.npy").write_bytes(b"NOTNUMPY" + b"\0" * 64)
    (files / "empty.npy").write_bytes(b"")
    (files / "header-garbage.npy").write_bytes(b"\x93NUMPY\x01\x00\x10\x00{'descr': 1/0}\n")
    (files / "notzip.npz").write_bytes(b"this is not a zip archive" * 40)
    (files / "empty.npz").write_bytes(b"")
    (files / "truncated.npz").write_bytes(b"PK\x03\x04" + b"\0" * 40)
    import zipfile

    _zip_bomb(files / "bomb.npz", chunks=129)  # 10 MB that inflate to 2.16 GB
    with zipfile.ZipFile(files / "lying.npz", "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("images.npy", _npy_header((10**12, 28, 28)) + b"\0" * 1000)
    with zipfile.ZipFile(files / "manymembers.npz", "w") as archive:
        for i in range(1500):
            archive.writestr(f"m{i}.npy", b"")
    with zipfile.ZipFile(files / "pickle.npz", "w") as archive:
        archive.writestr("images.npy", _npy_header((4,), "|O") + b"\x80\x04N.")
    np.savez(files / "nolabels-wrong.npz", images=np.zeros((4, 8, 8), np.uint8), labels=np.zeros((3,), np.int64))
    np.save(files / "float-range.npy", np.full((4, 8, 8), 7.0, np.float32))
    np.save(files / "nan.npy", np.full((4, 8, 8), np.nan, np.float32))
    np.save(files / "wrong-ndim.npy", np.zeros((8,), np.uint8))
    np.save(files / "complex.npy", np.zeros((4, 8, 8), np.complex64))
    from PIL import Image

    bomb_dir = files / "img-bomb"
    bomb_dir.mkdir()
    Image.new("1", (30_000, 30_000)).save(bomb_dir / "bomb.png")
    warn_dir = files / "img-bomb-warning"
    warn_dir.mkdir()
    Image.new("1", (12_000, 12_000)).save(warn_dir / "big.png")
    broken_dir = files / "img-broken"
    broken_dir.mkdir()
    (broken_dir / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    mixed_dir = files / "img-mixed"
    mixed_dir.mkdir()
    Image.new("L", (8, 8)).save(mixed_dir / "a.png")
    Image.new("L", (9, 9)).save(mixed_dir / "b.png")
    fifo_dir = files / "img-fifo"
    fifo_dir.mkdir()
    os.mkfifo(fifo_dir / "a.png")
    zero_dir = files / "img-zero"
    zero_dir.mkdir()
    os.symlink("/dev/zero", zero_dir / "a.png")
    empty_dir = files / "img-empty"
    empty_dir.mkdir()
    os.mkfifo(files / "fifo.npy")
    os.mkfifo(files / "fifo.npz")
    os.symlink("/dev/zero", files / "zero.npy")
    os.symlink("/dev/zero", files / "zero.npz")
    os.symlink("/dev/zero", files / "zero.png")
    for name in ("huge-header.npy", "huge-2d.npy", "short.npy", "object.npy", "bad-magic.npy", "empty.npy",
                 "header-garbage.npy", "notzip.npz", "empty.npz", "truncated.npz", "bomb.npz", "lying.npz",
                 "manymembers.npz", "pickle.npz", "nolabels-wrong.npz", "float-range.npy", "nan.npy",
                 "wrong-ndim.npy", "complex.npy", "img-bomb", "img-bomb-warning", "img-broken", "img-mixed",
                 "img-fifo", "img-zero", "img-empty", "fifo.npy", "fifo.npz", "zero.npy", "zero.npz", "zero.png",
                 "does-not-exist.npy"):
        data_case(name, files / name)
    for name in ("bomb.npz", "huge-header.npy", "img-bomb", "notzip.npz", "zero.npy", "fifo.npz"):
        target = out / f"rec-{name}.png"
        add("data", f"cli-reconstruct-{name}", ["reconstruct", "vae-glyphs-28", "--data", files / name,
                                                "-o", target], outputs=[target], heavy=True)
    for name in ("img-bomb/bomb.png", "zero.png", "img-fifo/a.png", "img-broken/a.png"):
        target = out / "act.png"
        add("data", f"cli-activations-{name}", ["activations", "glyph-cnn", "--image", files / name, "-l", "conv_1",
                                                "-o", target], outputs=[target], heavy=True)
    for name in ("bomb.npz", "lying.npz", "img-bomb"):
        add("data", f"cli-train-{name}", ["train", "ae", "--steps", "1", "--data", files / name,
                                          "-o", out / f"run-{name}"], outputs=[out / f"run-{name}"], heavy=True)

    # -- run folders: contained (no symbolic link followed out), run.json is data, steps bounded -----
    good_run = {"family": "glyphnet", "config": {"image_size": 32, "widths": [4, 8, 8], "msg_size": 8},
                "step": 2, "steps": 4, "schedule": [{"from": 0, "steps": 4}], "checkpoint_every": 2, "seed": 0,
                "data": None}
    victim = files / "run-victim"
    (victim / "checkpoint").mkdir(parents=True)
    (victim / "run.json").write_text(json.dumps(good_run))
    for name in ("step-00000002.safetensors", "model.safetensors", "canary.txt"):
        (victim / "checkpoint" / name).write_bytes(b"canary")
    (victim / "model.safetensors").write_bytes(b"canary")
    victim_outputs = [victim / "checkpoint" / "step-00000006.safetensors", victim / "config.json",
                      victim / "checkpoint" / ".lock"]

    def run_folder(name: str, manifest: dict | bytes | None = None) -> Path:
        folder = files / f"run-{name}"
        (folder / "checkpoint").mkdir(parents=True)
        data = good_run if manifest is None else manifest
        (folder / "run.json").write_bytes(data if isinstance(data, bytes) else json.dumps(data).encode())
        return folder

    bad_manifest = {
        "steps-abc": {"steps": "abc"}, "steps-list": {"steps": [5]}, "steps-true": {"steps": True},
        "steps-2.5": {"steps": 2.5}, "steps-1e30": {"steps": 1e30}, "steps-0": {"steps": 0},
        "steps-negative": {"steps": -4}, "steps-over-max": {"steps": 10_000_001}, "step-string": {"step": "2"},
        "step-past-steps": {"step": 99}, "schedule-string": {"schedule": "cosine"},
        "schedule-ints": {"schedule": [1, 2]}, "schedule-object": {"schedule": {"from": 0, "steps": 4}},
        "schedule-from-string": {"schedule": [{"from": "0", "steps": 4}]},
        "schedule-steps-missing": {"schedule": [{"from": 0}]}, "every-0": {"checkpoint_every": 0},
        "every-string": {"checkpoint_every": "2"}, "every-true": {"checkpoint_every": True},
        "seed-negative": {"seed": -1}, "seed-2**40": {"seed": 2**40}, "data-string": {"data": "glyphs"},
        "base-model-int": {"base_model": 7},
    }
    for name, change in bad_manifest.items():
        folder = run_folder(name, {**good_run, **change})
        add("runs", f"resume-{name}", ["train", folder, "--resume"], outputs=[folder / "model.safetensors"])
        if name in ("steps-abc", "schedule-string", "every-0"):
            add("runs", f"info-{name}", ["info", folder])
    for name, entry, target in (("checkpoint", "checkpoint", victim / "checkpoint"),
                                ("run-json", "run.json", victim / "run.json"),
                                ("model", "model.safetensors", victim / "model.safetensors"),
                                ("lock", ".lock", victim / "checkpoint" / "canary.txt"),
                                ("step-file", "checkpoint/step-00000002.safetensors",
                                 victim / "checkpoint" / "step-00000002.safetensors")):
        folder = run_folder(f"link-{name}")
        link = folder / entry
        if link.is_dir():
            link.rmdir()
        elif link.exists():
            link.unlink()
        os.symlink(target, link)
        add("runs", f"link-{name}", ["train", folder, "--resume", "--steps", "6"], outputs=victim_outputs)
        add("runs", f"link-{name}-sample", ["sample", folder, "-o", out / "link.png"],
            outputs=[out / "link.png", *victim_outputs])
    run_out = out / "run-steps"
    for value in ("10000001", str(2**63), "1e30", "0", "-5", "abc"):
        add("runs", f"train-steps{value[:8]}", ["train", "glyphnet", "-o", run_out, "--steps", value],
            outputs=[run_out])
    for value in ("0", "-1", "10000001", "x"):
        add("runs", f"train-checkpoint-every{value}", ["train", "glyphnet", "-o", run_out, "--steps", "2",
                                                       "--checkpoint-every", value], outputs=[run_out])
    add("runs", "train-set-steps-over-max", ["train", "glyphnet", "-o", run_out, "--set", "steps=10000001"],
        outputs=[run_out])
    for value in ("0", "-1", "True", "2.5", "'5'"):
        add("runs", f"api-checkpoint-every-{value}", kind="api", heavy=True, outputs=[run_out],
            code=f"import zoo_core; zoo_core.build('glyphnet', image_size=32, widths=[4, 8, 8], msg_size=8)"
                 f".train(steps=2, checkpoint_every={value}, run_dir={str(run_out)!r})")
    for value in ("10000001", "2**63", "1e30", "True", "'4'"):
        add("runs", f"api-steps-{value}", kind="api", heavy=True, outputs=[run_out],
            code=f"import zoo_core; zoo_core.build('glyphnet', image_size=32, widths=[4, 8, 8], msg_size=8)"
                 f".train(steps={value}, run_dir={str(run_out)!r})")

    # -- Hub references: grammar before any request or path ---------------------------------------
    hub_env = {"HF_ENDPOINT": hub_url or "http://127.0.0.1:9", "HF_HOME": str(root / "hf"),
               "XDG_DATA_HOME": str(root / "xdg"), "HF_HUB_DISABLE_TELEMETRY": "1"}
    escape = root / "escape"
    rel = "../" * 12 + str(escape).lstrip("/")
    refs = {"rev-traversal": f"hf://evil/any@{rel}/written-by-zoo", "rev-dotdot": "hf://evil/any@a/../../b",
            "rev-hidden": "hf://evil/any@.git", "rev-lock": "hf://evil/any@main.lock", "rev-empty": "hf://evil/any@",
            "rev-space": "hf://evil/any@ma in", "rev-newline": "hf://evil/any@main\nx", "rev-abs": "hf://evil/any@/etc",
            "repo-dots": "hf://../..@x", "repo-dashes": "hf://evil--x/any", "repo-git": "hf://evil/any.git",
            "repo-three": "hf://a/b/c", "repo-long": "hf://" + "a" * 97 + "/b", "repo-unicode": "hf://évil/any",
            "repo-empty": "hf://", "repo-control": "hf://evil/a\x1bny"}
    for name, ref in refs.items():
        add("hub", f"pull-{name}", ["pull", ref], env=hub_env, outputs=[escape])
        add("hub", f"sample-{name}", ["sample", ref, "-o", out / "hub.png"], env=hub_env,
            outputs=[escape, out / "hub.png"])
    add("hub", "push-bad-revision", ["push", template, "--repo", "evil/any", "--revision", f"{rel}/pushed"], env=hub_env,
        outputs=[escape])
    add("hub", "cache-clear-bad", ["cache", "clear", "hf://../..@x"], env=hub_env)
    if hub_url:
        for repo in ("badsha", "garbage", "deep", "zero", "nosha"):
            add("hub", f"hostile-{repo}", ["pull", f"hf://evil/{repo}"], env=hub_env, outputs=[escape])
        add("hub", "hostile-rev-traversal-sample", ["sample", f"hf://evil/any@{rel}/x", "-o", out / "h.png"],
            env=hub_env, outputs=[escape, out / "h.png"])
    _issue_33_cases(add, root, files, out, meta, saved, hub_env)
    for case in cases:
        case["env"].setdefault("PYTHONPATH_EXTRA", str(site))
    return cases


_KEEP: list = []  # sockets that must outlive build_corpus (the silent endpoint)


def _issue_33_cases(add, root: Path, files: Path, out: Path, meta: dict, saved, hub_env: dict) -> None:
    """Issue 33 items 3-6: bounded Hub reads, the memory estimate, --workers before launch, the tail."""
    import socket

    import numpy as np

    png = out / "i33.png"
    # item 3: endpoints and the listing's deadline (a port that accepts and never answers)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    _KEEP.append(silent)
    for name, url in (("port-range", "http://127.0.0.1:99999"), ("ipv6-open", "http://[::1"),
                      ("ftp", "ftp://example.org"), ("no-host", "http://"), ("no-scheme", "127.0.0.1:8080")):
        env = {**hub_env, "HF_ENDPOINT": url}
        add("hub", f"endpoint-{name}-list", ["list", "--hub"], env=env)
        add("hub", f"endpoint-{name}-pull", ["pull", "hf://someone/model"], env=env)
    add("hub", "list-silent-endpoint", ["list", "--hub"], kind="proc",
        env={**hub_env, "HF_ENDPOINT": f"http://127.0.0.1:{silent.getsockname()[1]}", "ZOO_HUB_TIMEOUT": "1"})
    add("hub", "list-timeout-malformed", ["list", "--hub"], env={**hub_env, "ZOO_HUB_TIMEOUT": "abc"})
    add("hub", "list-timeout-zero", ["list", "--hub"], env={**hub_env, "ZOO_HUB_TIMEOUT": "0"})

    # item 4: memory estimates, refused before the framework is imported (light) or the first step
    big_ae = ["--set", "image_size=256", "--set", "channels=3", "--set", "hidden=[65536]"]
    add("options", "memory-ae-hidden-65536", ["sample", "ae", "-n", "4096", *big_ae, "-o", png], outputs=[png])
    add("options", "memory-vae-filters-4096", ["sample", "vae", "-n", "1", "--set", "filters=[4096,4096,4096,4096]",
                                               "--set", "kernel_sizes=[3,3,3,3]", "-o", png],
        env={"ZOO_MEMORY_LIMIT": "8GiB"}, outputs=[png])
    add("options", "memory-limit-malformed", ["sample", "ae", "-o", png], env={"ZOO_MEMORY_LIMIT": "lots"},
        outputs=[png])
    add("options", "memory-train-batch-8192", ["train", "vae", "--steps", "1", "--set", "batch_size=8192",
                                               "-o", out / "run-mem"], env={"ZOO_MEMORY_LIMIT": "3GiB"},
        outputs=[out / "run-mem" / "checkpoint"], heavy=True)
    add("config", "api-build-memory", kind="api", env={"ZOO_MEMORY_LIMIT": "1GiB"},
        code="import zoo_core; zoo_core.build('ae', image_size=256, channels=3, hidden=[65536])")

    # item 5: --workers, checked once in the launcher
    add("options", "workers-over-cores", ["train", "glyphnet", "-o", out / "run-w", "--workers", "64",
                                          "--set", "batch_size=64", "--device", "cpu"],
        outputs=[out / "run-w" / "run.json"], heavy=True)
    add("options", "workers-memory", ["train", "vae", "-o", out / "run-wm", "--workers", "2", "--device", "cpu",
                                      "--set", "batch_size=8192"], env={"ZOO_MEMORY_LIMIT": "2GiB"},
        outputs=[out / "run-wm" / "run.json"], heavy=True)

    # item 6: the tail
    add("options", "grid-n2-size8", ["random-cnn-grid", "--n", "2", "--size", "8", "-o", png], outputs=[png],
        heavy=True)
    add("options", "grid-info-unwritable", ["random-cnn-grid", "-o", png, "--info", "/proc/zoo-info.json"],
        outputs=[png])
    add("options", "grid-info-under-a-file", ["random-cnn-grid", "-o", png, "--info", files / "fifo" / "i.json"],
        outputs=[png])
    add("options", "gallery-output-empty", ["gallery", "-o", ""])
    add("options", "gallery-output-blank", ["gallery", "-o", "  "])
    add("options", "visualize-channels-empty-string", ["visualize", "glyph-cnn", "-l", "conv_1", "--channels", "",
                                                       "-o", png], outputs=[png], heavy=True)
    long_name = "a" * 5000
    add("options", "name-5000-sample", ["sample", long_name, "-o", png], outputs=[png])
    add("options", "name-5000-info", ["info", long_name])
    add("options", "name-5000-train", ["train", long_name, "-o", out / "run-long"], outputs=[out / "run-long"])
    add("config", "api-name-5000", kind="api", code=f"import zoo_core; zoo_core.load({long_name!r})")
    for name, call in (("n-negative", "(-1)"), ("n-text", "('abc')"), ("n-1e9", "(1e9)"), ("n-huge", "(10**9)"),
                       ("n-bool", "(True)"), ("seed-negative", "(2, seed=-1)"), ("seed-text", "(2, seed='abc')"),
                       ("seed-huge", "(2, seed=2**40)")):
        add("config", f"api-sample-{name}", kind="api", heavy=True,
            code=f"import zoo_core; zoo_core.build('random-cnn').sample{call}")
    utf16 = saved("c-utf16", config=json.dumps(meta).encode("utf-16"))
    add("saved", "config-utf16-sample", ["sample", utf16, "-o", out / "u16.png"], outputs=[out / "u16.png"])
    add("saved", "config-utf16-info", ["info", utf16])
    for name in ("int", "short", "upper", "list", "bool"):
        add("saved", f"info-sha256-{name}", ["info", files / f"saved-sha-{name}"])
    wide = files / "wide-4x5000.npy"
    np.save(wide, np.zeros((3, 4, 5000), np.uint8))
    add("data", "train-ae-squeezed", ["train", "ae", "--steps", "1", "--data", wide, "-o", out / "run-wide"],
        outputs=[out / "run-wide" / "model.safetensors"], heavy=True)
    add("data", "api-squeezed", kind="api",
        code=f"from zoo_core.data.datasets import load_dataset; load_dataset({str(wide)!r}, size=28)")


# -- running cases in a child ----------------------------------------------------------------------


def _child(cases_file: str, results_file: str, start: int, light: bool = False) -> None:
    """Run cases from index ``start``; append a result line per case (a 'start' line first).

    ``light``: the child returns after a case that imported torch or TensorFlow, so that each
    case of the light group starts without a framework's memory (only matters for a zoo that
    loads a model before refusing the input).
    """
    import io
    import signal
    import traceback

    cases = json.loads(Path(cases_file).read_text())
    extra = cases[0]["env"].get("PYTHONPATH_EXTRA") if cases else None
    if extra:
        sys.path.insert(0, extra)
    from click.testing import CliRunner

    import zoo_core.plugins
    from zoo_cli import main as cli_main

    cli_main.add_plugin_commands()

    class Hang(BaseException):
        pass

    def alarm(*_: object) -> None:
        raise Hang()

    signal.signal(signal.SIGALRM, alarm)
    with open(results_file, "a", encoding="utf-8") as log:
        for index in range(start, len(cases)):
            case = cases[index]
            log.write(json.dumps({"start": index}) + "\n")
            log.flush()
            env = {k: v for k, v in case["env"].items() if k != "PYTHONPATH_EXTRA"}
            saved = {k: os.environ.get(k) for k in env}
            os.environ.update(env)
            zoo_core.plugins.reset()
            result = {"index": index, "rc": None, "stdout": "", "stderr": "", "traceback": False, "hang": False}
            began = time.time()
            signal.alarm(CASE_TIMEOUT)
            try:
                if case["kind"] == "cli":
                    run = CliRunner().invoke(cli_main.cli, case["args"], prog_name="zoo", catch_exceptions=True)
                    result.update(rc=run.exit_code, stdout=run.stdout, stderr=run.stderr)
                    if run.exception is not None and not isinstance(run.exception, SystemExit):
                        if isinstance(run.exception, Hang):
                            raise run.exception
                        result["traceback"] = True
                        result["stderr"] += "".join(traceback.format_exception(run.exception))
                else:  # api
                    buffer = io.StringIO()
                    try:
                        exec(compile(case["code"], case["id"], "exec"), {"__name__": "__case__"})  # noqa: S102
                        result.update(rc=0)
                    except zoo_core.ZooError as exc:
                        result.update(rc=2, stderr=f"zoo: error: {exc}\n")
                    except Hang:
                        raise
                    except BaseException as exc:  # noqa: BLE001 - what the case is about
                        result.update(rc=1, traceback=True, stderr=buffer.getvalue() + "".join(
                            traceback.format_exception(exc)))
            except Hang:
                result["hang"] = True
            finally:
                signal.alarm(0)
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
            result["stdout"], result["stderr"] = result["stdout"][-4000:], result["stderr"][-4000:]
            result["seconds"] = round(time.time() - began, 3)
            log.write(json.dumps(result) + "\n")
            log.flush()
            if result["hang"] or (result["traceback"] and _frameworks_loaded()):
                # the alarm (or an error) may have cut a framework's import short: a second import of a
                # half-imported TensorFlow in this process fails ('RaggedTensorSpec has already been
                # registered'), so the next case starts in a fresh child
                return
            if light and (result["traceback"] or _frameworks_loaded()):
                return  # a framework came in, or a case failed (an old zoo): start afresh


def _frameworks_loaded() -> bool:
    return any(name.split(".")[0] in ("torch", "tensorflow", "keras") for name in sys.modules)


def _limit_memory(limit: int):
    def apply() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return apply


def _proc_case(case: dict, zoo_path: list[str], limit: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZOO_", "HF_", "XDG_"))}
    env.update({k: v for k, v in case["env"].items() if k != "PYTHONPATH_EXTRA"})
    env["PYTHONPATH"] = os.pathsep.join(zoo_path)
    try:
        proc = subprocess.run([sys.executable, "-c", "from zoo_cli.main import main; main()", *case["args"]],
                              capture_output=True, text=True, env=env, timeout=CASE_TIMEOUT,
                              preexec_fn=_limit_memory(limit), cwd=tempfile.gettempdir())
    except subprocess.TimeoutExpired:
        return {"rc": None, "stdout": "", "stderr": "", "traceback": False, "hang": True}
    return {"rc": proc.returncode, "stdout": proc.stdout[-4000:], "stderr": proc.stderr[-4000:],
            "traceback": "Traceback" in proc.stderr, "hang": False}


def run_cases(cases: list[dict], zoo_path: list[str], work: Path, limit: int, light: bool = False) -> list[dict]:
    """Run ``cases`` in child interpreters (restarted after a case that kills them); one result per case."""
    results: list[dict | None] = [None] * len(cases)
    inproc = [c for c in cases if c["kind"] != "proc"]
    for i, case in enumerate(cases):
        if case["kind"] == "proc":
            results[i] = _proc_case(case, zoo_path, limit)
    if inproc:
        tag = "light" if light else "heavy"
        cases_file, results_file = work / f"cases-{tag}.json", work / f"results-{tag}.jsonl"
        cases_file.write_text(json.dumps(inproc))
        results_file.write_text("")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ZOO_", "HF_", "XDG_"))}
        env.update(PYTHONPATH=os.pathsep.join(zoo_path), ZOO_REGISTRY="", OMP_NUM_THREADS="1",
                   BADINPUT_CASE_TIMEOUT=str(CASE_TIMEOUT),
                   TF_CPP_MIN_LOG_LEVEL="3", HF_HUB_DISABLE_TELEMETRY="1")
        start, done = 0, {}
        while start < len(inproc):
            deadline = CASE_TIMEOUT * (len(inproc) - start) + scaled_int(120)
            try:
                proc = subprocess.run([sys.executable, __file__, "child", str(cases_file), str(results_file),
                                       str(start), "light" if light else "heavy"], env=env, capture_output=True, text=True, timeout=deadline,
                                      preexec_fn=_limit_memory(limit), cwd=tempfile.gettempdir())
                died = proc.returncode != 0
                tail = (proc.stderr or "")[-2000:]
            except subprocess.TimeoutExpired:
                died, tail = True, "child timed out"
            last = None
            for line in results_file.read_text().splitlines():
                item = json.loads(line)
                if "start" in item:
                    last = item["start"]
                else:
                    done[item["index"]] = item
                    last = None
            if last is not None and last not in done:  # the child died or hung inside this case
                done[last] = {"index": last, "rc": None, "stdout": "", "stderr": "child died: " + tail,
                              "traceback": True, "hang": False, "crash": True}
            elif (max(done) + 1 if done else 0) == start:
                raise RuntimeError(f"the case runner failed to start (died: {died}):\n{tail}")
            start = max(done) + 1 if done else len(inproc)
        by_id = {c["id"]: done[i] for i, c in enumerate(inproc)}
        for i, case in enumerate(cases):
            if case["kind"] != "proc":
                results[i] = by_id[case["id"]]
    return results  # type: ignore[return-value]


_PROGRESS = __import__("re").compile(r"\d+%\|.*\| *\d+/\d+ \[")  # a progress bar (Hub downloads), not an error


def judge(case: dict, result: dict) -> str:
    """``""`` if zoo handled the case as promised, else why not (one line)."""
    if result.get("hang"):
        return "hang (no answer within the per-case timeout)"
    if result.get("crash"):
        return "the process died (memory limit or a crash)"
    if result.get("traceback"):
        last = [ln for ln in result["stderr"].splitlines() if ln.strip()]
        return f"traceback: {last[-1][:160] if last else '?'}"
    written = [p for p in case["outputs"] if os.path.lexists(p)]
    if written:
        return f"wrote {written[0]}"
    expect = case["expect"]
    if expect == "error":
        lines = [ln for ln in result["stderr"].splitlines() if ln.strip() and not ln.startswith("zoo: warning")
                 and not _PROGRESS.search(ln)]
        if result["rc"] != 2:
            return f"exit {result['rc']}, not 2" + (f": {lines[-1][:120]}" if lines else "")
        if len(lines) != 1 or not lines[0].startswith("zoo: error: "):
            return f"{len(lines)} stderr lines, not one 'zoo: error:' line"
        return ""
    if result["rc"] != expect.get("rc", 0):
        return f"exit {result['rc']}, not {expect.get('rc', 0)}"
    for text in expect.get("stdout_has", []):
        if text not in result["stdout"]:
            return f"stdout lacks {text!r}"
    for text in expect.get("stdout_lacks", []):
        if text in result["stdout"]:
            return f"stdout has {text!r}"
    return ""


def run_corpus(zoo_root: Path, work: Path, hub_url: str | None = None) -> tuple[list[dict], list[str]]:
    """Build the corpus in ``work`` and run it against the zoo checkout at ``zoo_root``; return (cases, verdicts)."""
    cases = build_corpus(work, hub_url)
    zoo_path = [str(zoo_root), str(zoo_root / "cli"), str(zoo_root / "plugins"), cases[0]["env"]["PYTHONPATH_EXTRA"]]
    verdicts = [""] * len(cases)
    for heavy, limit in ((False, LIGHT_AS), (True, HEAVY_AS)):
        chosen = [i for i, c in enumerate(cases) if c["heavy"] == heavy]
        results = run_cases([cases[i] for i in chosen], zoo_path, work, limit, light=not heavy)
        for i, result in zip(chosen, results):
            verdicts[i] = judge(cases[i], result)
            for path in cases[i]["outputs"]:  # keep the next cases' checks independent
                if os.path.isdir(path) and not os.path.islink(path):
                    import shutil

                    shutil.rmtree(path, ignore_errors=True)
                elif os.path.lexists(path):
                    os.unlink(path)
    return cases, verdicts


def counts(cases: list[dict], verdicts: list[str]) -> dict[str, tuple[int, int]]:
    """``{group: (handled, total)}``."""
    out: dict[str, list[int]] = {}
    for case, verdict in zip(cases, verdicts):
        row = out.setdefault(case["group"], [0, 0])
        row[0] += verdict == ""
        row[1] += 1
    return {k: (v[0], v[1]) for k, v in out.items()}


def main(argv: list[str]) -> None:
    if argv[:1] == ["child"]:
        _child(argv[1], argv[2], int(argv[3]), argv[4:5] == ["light"])
        return
    if argv[:1] == ["count"]:
        sys.path.insert(0, str(HERE.parent))
        from helpers.hostile_hub import HostileHub

        zoo_root = Path(argv[1]).resolve()
        with tempfile.TemporaryDirectory(prefix="zoo-badinput-") as tmp:
            with HostileHub(Path(tmp) / "escape") as hub:
                began = time.time()
                cases, verdicts = run_corpus(zoo_root, Path(tmp), hub.url)
            for case, verdict in zip(cases, verdicts):
                if verdict:
                    print(f"FAIL {case['id']!r}: {verdict}")
            print(json.dumps(counts(cases, verdicts)))
            print(f"{len(cases)} cases, {sum(v == '' for v in verdicts)} handled, {time.time() - began:.0f} s")
        return
    raise SystemExit("usage: badinput.py count ZOO_ROOT")


if __name__ == "__main__":
    main(sys.argv[1:])
