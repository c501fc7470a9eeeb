"""The batch-norm gap of a short digits run: held-out -ELBO with stale vs recomputed moving statistics.

Usage: OMP_NUM_THREADS=1 nice .venv/bin/python benchmarks/vae_bn_gap.py  (a few minutes on 2 CPU cores)

Trains the family-default `vae` on digits-28 for 300 steps (the run of issue 16) with the end-of-training
recompute held back, evaluates it, then recomputes the statistics and evaluates again (docs/vae.md).
"""

import json, numpy as np, zoo_core
from zoo_core.data.datasets import load_dataset
m = zoo_core.build("vae", dataset="digits-28")  # the family defaults, as `zoo train vae --steps 300`
orig = m.recompute_batch_norm
m.recompute_batch_norm = lambda images: (setattr(m, "_imgs", images), True)[1]
h = m.train(steps=300)
train_total = float(np.mean(h["total_loss"][-25:]))
keys = ("neg_elbo_bce", "neg_elbo", "bits_per_dim")
stale = m.evaluate(seed=0)
train_imgs, _ = load_dataset("digits-28", "train")
stale_train = m.evaluate(train_imgs, seed=0)
orig(m._imgs)
fresh = m.evaluate(seed=0)
fresh_train = m.evaluate(train_imgs, seed=0)
print(json.dumps({"train_total_last25": train_total, "stale_heldout": {k: stale[k] for k in keys},
                  "stale_train": {k: stale_train[k] for k in keys},
                  "recomputed_heldout": {k: fresh[k] for k in keys},
                  "recomputed_train": {k: fresh_train[k] for k in keys}}))
