"""Planted bugs: the conformance kit catches each class of bug that issue 31 found it missing.

Each case copies the example plugin (``examples/zoo-blobs``: the numpy ``blobs`` family and the
two-network torch ``blobgan``) into a temporary site folder with a ``*.dist-info``, plants one
bug by a text edit, and runs the one check that must catch it (in-process; the checks of
``zoo train`` run the CLI in subprocesses that see the copy). The unmutated plugin passes every
check (``test_example_plugin.py`` runs the kit on it), so a failure here is the planted bug.
docs/plugins.md quotes the number of cases.
"""

from __future__ import annotations

import shutil

import pytest

from helpers.pluginenv import EXAMPLE, on_sys_path, write_dist

BLOBS = {"batch_size": 32}


def _second_device() -> bool:
    try:
        import torch
    except ImportError:
        return False
    mps = getattr(torch.backends, "mps", None)
    return torch.cuda.is_available() or bool(mps and mps.is_available())


#: (id, file, [(old, new), ...], name checked, the check that must catch it, overrides)
BUGS = [
    ("training-ignores-the-device", "gan.py",
     [("        model.to(ctx.device)\n", "        model.to(\"cpu\")\n"),
      ("self.device = torch.device(ctx.device)", "self.device = torch.device(\"cpu\")")],
     "blobgan", "check_device", {}),
    ("distributed-session-does-not-shard", "gan.py",
     [("self.part = shard(int(model.config[\"batch_size\"]), self.world)", "self.part = slice(None)")],
     "blobgan", "check_distributed", {}),
    ("gradients-not-averaged", "gan.py",
     [("            self._average(d)\n", ""), ("            self._average(g)\n", "")],
     "blobgan", "check_distributed", {}),
    ("batchnorm-buffers-not-synced", "gan.py",
     [("nn.Linear(dims, hidden), nn.LeakyReLU(0.2)", "nn.Linear(dims, hidden), nn.BatchNorm1d(hidden), nn.LeakyReLU(0.2)")],
     "blobgan", "check_distributed", {}),
    ("config-key-with-no-effect", "model.py",
     [("float(np.log(c[\"min_std\"]))", "float(np.log(0.02))")],
     "blobs", "check_config_keys", BLOBS),
    ("hard-coded-size-seen-only-with-another-size", "model.py",
     [("return (self.config[\"size\"], self.config[\"size\"], self.config[\"channels\"])",
       "return (16, 16, self.config[\"channels\"])")],
     "blobs", "check_config_keys", BLOBS),
    ("wrong-num-parameters-without-count-parameters", "both",
     [("        count_parameters=count_parameters,\n        contract=2,", "        contract=2,"),
      ("    # -- sampling ---", "    num_parameters = property(lambda self: self.dims * 2)\n\n    # -- sampling ---")],
     "blobs", "check_build", BLOBS),
    ("sample-reseeds-numpy-global-rng", "model.py",
     [("        weights = _softmax(self.logits.astype(np.float64))\n        k = ",
       "        np.random.seed(seed)\n        weights = _softmax(self.logits.astype(np.float64))\n        k = ")],
     "blobs", "check_global_rng", BLOBS),
    ("sample-reseeds-torch-global-rng", "gan.py",
     [("        with torch.no_grad():\n            z = ", "        torch.manual_seed(0)\n        with torch.no_grad():\n            z = ")],
     "blobgan", "check_global_rng", {}),
    ("sample-depends-on-the-batch", "model.py",
     [("np.random.default_rng([seed, 1])", "np.random.default_rng([seed, n])")],
     "blobs", "check_sample_prefix", BLOBS),
    ("session-without-examples", "model.py",
     [("        self.examples = None if images is None else int(len(images))\n", "")],
     "blobs", "check_examples", BLOBS),
    ("training-ignores-data", "model.py",
     [("return BlobsSession(self, None if data is None else _as_images(data, self.image_shape))",
       "return BlobsSession(self, None)")],
     "blobs", "check_trains_on_data", BLOBS),
    ("resume-safe-lists-an-architecture-key", "__init__.py",
     [("        count_parameters=count_parameters,\n        contract=2,",
       "        count_parameters=count_parameters,\n        resume_safe=(\"lr\", \"steps\", \"components\"),\n"
       "        contract=2,")],
     "blobs", "check_config_keys", BLOBS),
    ("declared-trainable-without-training-session", "both",
     [("        count_parameters=count_parameters,\n        contract=2,",
       "        count_parameters=count_parameters,\n        trainable=True,"),
      ("    def training_session(self, data: Any, steps: int, ctx: Any) -> \"BlobsSession\":",
       "    def make_session(self, data: Any, steps: int, ctx: Any) -> \"BlobsSession\":")],
     "blobs", "check_registers", BLOBS),
    ("own-train-instead-of-the-runtime", "model.py",
     [("    def training_session(self, data: Any, steps: int, ctx: Any) -> \"BlobsSession\":",
       "    def train(self, data=None, *, steps=300, callbacks=(), **options):\n"
       "        session = self.make_session(data, steps, None)\n"
       "        for step in range(1, (steps or 1) + 1):\n"
       "            logs = session.run(step, step)[0]\n"
       "            for callback in callbacks:\n"
       "                callback(step, logs)\n"
       "        return {}\n\n"
       "    def make_session(self, data: Any, steps: int, ctx: Any) -> \"BlobsSession\":")],
     "blobs", "check_zoo_train", BLOBS),
]


#: a fragment of the failure each case must produce (so that it is caught for its own reason)
REASON = {
    "training-ignores-the-device": "training left tensors on cpu",
    "distributed-session-does-not-shard": "never split its batch",
    "gradients-not-averaged": "workers ended with different weights",
    "batchnorm-buffers-not-synced": "workers ended with different weights",
    "config-key-with-no-effect": "config key 'min_std' changes nothing",
    "hard-coded-size-seen-only-with-another-size": "cannot reshape array",
    "wrong-num-parameters-without-count-parameters": "model.num_parameters is 512, but its state dict holds",
    "sample-reseeds-numpy-global-rng": "changed the global RNG state of numpy.random",
    "sample-reseeds-torch-global-rng": "changed the global RNG state of torch",
    "sample-depends-on-the-batch": "is not sample(5, seed=7)[:1]",
    "session-without-examples": "the session has no 'examples' attribute",
    "training-ignores-data": "the session ignores its data argument",
    "resume-safe-lists-an-architecture-key": "resume_safe lists 'components'",
    "declared-trainable-without-training-session": "declares trainable=True, but BlobsGMM defines no training_session",
    "own-train-instead-of-the-runtime": "trains by its own train() (plugin contract 1)",
}


def plant(tmp_path, file: str, edits: list[tuple[str, str]]):
    """A copy of the example plugin in ``tmp_path/site`` with ``edits`` applied (each must apply once)."""
    site = tmp_path / "site"
    shutil.copytree(EXAMPLE / "zoo_blobs", site / "zoo_blobs", ignore=shutil.ignore_patterns("__pycache__"))
    write_dist(site, "zoo-blobs", {"blobs": "zoo_blobs"}, {})
    files = ["model.py", "__init__.py"] if file == "both" else [file]
    done = 0
    for old, new in edits:
        for name in files:
            path = site / "zoo_blobs" / name
            text = path.read_text(encoding="utf-8")
            if text.count(old) == 1:
                path.write_text(text.replace(old, new), encoding="utf-8")
                done += 1
                break
    assert done == len(edits), "a planted edit no longer applies to the example plugin; update the case"
    return site


@pytest.mark.parametrize("bug, file, edits, name, check, overrides", BUGS, ids=[b[0] for b in BUGS])
def test_the_kit_catches_the_planted_bug(tmp_path, bug, file, edits, name, check, overrides):
    from zoo_core.testing import CHECKS, CheckFailure

    if bug == "training-ignores-the-device" and not _second_device():
        pytest.skip("seen only where torch sees a second device type (CUDA or MPS); on the CPU the kit checks "
                    "--device cpu alone")
    pytest.importorskip("torch")
    site = plant(tmp_path, file, edits)
    with on_sys_path(site):
        with pytest.raises(CheckFailure) as caught:
            CHECKS[check](name, overrides=overrides)
    assert f"{check}({name!r})" in str(caught.value)
    assert REASON[bug] in str(caught.value), str(caught.value)  # caught for the planted reason


def test_every_missed_class_has_a_case():
    assert len(BUGS) == 15 and {b[0] for b in BUGS} == set(REASON)
