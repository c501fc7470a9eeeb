"""Golden samples under different execution settings: which ones keep the bytes equal?

For every bundled model, ``sample(4, seed=0)`` is computed in a fresh process per setting and
compared with the baseline (1 thread, default kernels):

* ``threads=2``, ``threads=4``: ``OMP_NUM_THREADS`` and torch's and TensorFlow's intra-op threads;
* ``threads=1, onednn off``: ``TF_ENABLE_ONEDNN_OPTS=0`` (TensorFlow's plain Eigen kernels);
* ``threads=1, torch mkldnn off``: ``torch.backends.mkldnn.enabled = False``;
* ``n=16, first 4``: the first 4 images of ``sample(16, seed=0)`` (a different batch size).

Per model and setting: whether the sha256 equals the catalog's ``sample_sha256``, the largest
absolute difference in grey levels, and the share of differing bytes.

Usage::

    python benchmarks/bench_golden.py [--write]     # --write: the "golden samples" section of docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CHILD = r"""
import json, sys, numpy as np
settings = json.loads(sys.argv[1])
if settings.get("mkldnn_off"):
    import torch
    torch.backends.mkldnn.enabled = False
threads = settings.get("threads", 1)
try:
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
except ImportError:
    pass
try:
    import torch
    torch.set_num_threads(threads)
except ImportError:
    pass
import zoo_core
out = {}
for entry in zoo_core.list_models():
    model = zoo_core.load(entry.name)
    n = settings.get("n", 4)
    out[entry.name] = model.sample(n, seed=0)[:4]
np.savez(sys.argv[2], **out)
"""

SETTINGS = {
    "baseline (1 thread)": {"threads": 1},
    "threads=2": {"threads": 2},
    "threads=4": {"threads": 4},
    "1 thread, TF_ENABLE_ONEDNN_OPTS=0": {"threads": 1, "env": {"TF_ENABLE_ONEDNN_OPTS": "0"}},
    "1 thread, torch mkldnn off": {"threads": 1, "mkldnn_off": True},
    "n=16, first 4": {"threads": 1, "n": 16},
}


def run(name: str, settings: dict, folder: Path) -> dict[str, np.ndarray]:
    env = {**os.environ, "OMP_NUM_THREADS": str(settings["threads"]), "TF_CPP_MIN_LOG_LEVEL": "3",
           **settings.get("env", {})}
    path = folder / f"{abs(hash(name))}.npz"
    subprocess.run([sys.executable, "-c", CHILD, json.dumps(settings), str(path)], env=env, check=True)
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write the section of docs/benchmarks.md")
    args = parser.parse_args()
    import zoo_core
    from zoo_core.media.golden import images_digest

    recorded = {e.name: e.sample_sha256 for e in zoo_core.list_models()}
    frameworks = {e.name: zoo_core.get_family(e.family).framework for e in zoo_core.list_models()}
    with tempfile.TemporaryDirectory() as tmp:
        results = {name: run(name, s, Path(tmp)) for name, s in SETTINGS.items()}
    base = results["baseline (1 thread)"]
    header = "| model | framework | " + " | ".join(SETTINGS) + " |"
    lines = [header, "|---|---|" + "---|" * len(SETTINGS)]
    for model in sorted(base, key=zoo_core.catalog.natural_key):
        cells = []
        for name in SETTINGS:
            images = results[name][model]
            same = images_digest(images) == recorded[model]
            diff = np.abs(images.astype(np.int16) - base[model].astype(np.int16))
            cells.append("equal" if same else f"max {diff.max()}, {(diff > 0).sum()} of {diff.size} bytes")
        lines.append(f"| {model} | {frameworks[model]} | " + " | ".join(cells) + " |")
    import torch
    import tensorflow as tf

    body = ("\n".join(lines) + "\n\n\"equal\": the sha256 of `sample(4, seed=0)` equals the catalog's `sample_sha256`; "
            "otherwise the largest difference in grey levels from the baseline and how many bytes differ. "
            f"torch {torch.__version__}, tensorflow {tf.__version__}, numpy {np.__version__}; CPU only "
            "(no GPU on this machine). docs/reproducibility.md draws the conclusions.\n")
    print(body)
    if args.write:
        sys.path.insert(0, str(HERE))
        from report import write_section

        write_section("golden samples", "python benchmarks/bench_golden.py --write", body)


if __name__ == "__main__":
    main()
