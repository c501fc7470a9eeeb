"""Train ``blobs-16`` and write its published weights and sha256 into the package.

Run from this folder: ``python make_weights.py``. Training is seeded, so the file (and its
sha256) is the same on every machine with the same numpy. The script writes
``zoo_blobs/weights/blobs-16.safetensors`` and puts its sha256 into the catalog entry in
``zoo_blobs/__init__.py``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from zoo_core.io.weights import save_tensors  # noqa: E402

import zoo_blobs  # noqa: E402
from zoo_blobs.model import BlobsGMM  # noqa: E402


def main() -> None:
    """Train, save, and record the sha256."""
    config = zoo_blobs.CONFIG.resolve({"size": 16, "components": 16})
    model = BlobsGMM(config)
    history = model.train(steps=config["steps"])
    print(f"nll per pixel: {history['nll'][0]:.3f} -> {history['nll'][-1]:.3f}; "
          f"held out: {model.evaluate()['nll_per_pixel']:.3f}")
    path = HERE / "zoo_blobs" / "weights" / "blobs-16.safetensors"
    # One metadata key only: safetensors writes several keys in a random order (a different sha256).
    sha = save_tensors(model.state_dict(), path, metadata={"format": "zoo-model/1"})
    init = HERE / "zoo_blobs" / "__init__.py"
    text = init.read_text(encoding="utf-8")
    text = re.sub(r'("sha256": ")([0-9a-f]{64}|SHA256_PLACEHOLDER)(")', rf"\g<1>{sha}\g<3>", text, count=1)
    init.write_text(text, encoding="utf-8")
    print(f"wrote {path.relative_to(HERE)} sha256 {sha}")


if __name__ == "__main__":
    main()
