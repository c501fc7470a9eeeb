"""Benchmarks of the glyphnet plugin against a plain reference recipe.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_glyphnet.py                      # all three, print markdown
    .venv/bin/python benchmarks/bench_glyphnet.py --append docs/benchmarks.md
    .venv/bin/python benchmarks/bench_glyphnet.py --only train --steps 300

1. **train**: steps/s of zoo's glyphnet training step against a reference written from the blog
   post's description: kornia ``RandomAffine(degrees=30, translate=(0.1, 0.1), scale=(0.9, 1.1),
   shear=(-10, 10))`` + ``RandomPerspective(0.6, p=0.5)`` after adding ``randn / 4`` noise, a
   ConvTranspose2d generator and a Conv2d decoder of the same sizes, Adam(1e-3), batch 128, fresh
   ``torch.randn`` messages each step. The post's code keeps kornia's default ``p=0.5`` for
   ``RandomAffine``, so zoo runs with ``affine_p=0.5`` here to see the same channel (``--affine-p 1``
   compares both with the affine warp always on). The two are run in interleaved blocks, so both
   see the same load on a shared machine; then both are scored on the same 1,000 held-out messages
   through the *reference's* kornia channel (eval mode), so "message MSE" means the same thing.
2. **sample**: images/s of ``model.sample(n, seed)`` (numpy messages, eval mode, uint8 NHWC
   output) against a bare ``torch.no_grad()`` forward of the same generator on ``torch.randn``.
3. **cli**: wall time of ``zoo sample glyphnet-64 -n 64`` against ``python -c "import torch"``
   (median of alternating runs).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


# -- the reference recipe (from the post's description; independent of zoo's code) --------------


def reference_networks(msg_size: int, widths: list[int], channels: int):
    """Generator and decoder of the post's shape: ConvTranspose2d up, Conv2d down, BN + LeakyReLU."""
    import torch
    from torch import nn

    class Gen(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            w = widths
            layers = [nn.ConvTranspose2d(msg_size, w[-1], 4, 1, 0, bias=False), nn.BatchNorm2d(w[-1]),
                      nn.LeakyReLU(0.2)]
            for i in range(len(w) - 1, 0, -1):
                layers += [nn.ConvTranspose2d(w[i], w[i - 1], 4, 2, 1, bias=False), nn.BatchNorm2d(w[i - 1]),
                           nn.LeakyReLU(0.2)]
            layers += [nn.ConvTranspose2d(w[0], channels, 4, 2, 1), nn.Sigmoid()]
            self.net = nn.Sequential(*layers)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x[:, :, None, None])

    class Dec(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            w = widths
            layers = [nn.Conv2d(channels, w[0], 4, 2, 1, bias=False), nn.BatchNorm2d(w[0]), nn.LeakyReLU(0.2)]
            for i in range(1, len(w)):
                layers += [nn.Conv2d(w[i - 1], w[i], 4, 2, 1, bias=False), nn.BatchNorm2d(w[i]), nn.LeakyReLU(0.2)]
            layers += [nn.Conv2d(w[-1], msg_size, 4, 1, 0)]
            self.net = nn.Sequential(*layers)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x).flatten(1)

    return Gen(), Dec()


def reference_channel(affine_p: float = 0.5):
    """The post's kornia noise: ``noise(imgs + randn/4)`` with RandomAffine + RandomPerspective."""
    import kornia.augmentation as K
    from torch import nn

    warps = nn.Sequential(
        K.RandomAffine(degrees=30, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=(-10.0, 10.0), p=affine_p),
        K.RandomPerspective(0.6, p=0.5),
    )

    def channel(images):
        import torch

        return warps(images + torch.randn_like(images) / 4)

    return channel


# -- 1. training -----------------------------------------------------------------------------------


def bench_train(steps: int, block: int, affine_p: float) -> dict:
    """Interleaved training of zoo's glyphnet and the reference; steps/s and held-out MSE of each."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    import zoo_core
    from zoo_core.runtime.distributed import World
    from zoo_core.runtime import TrainContext
    from zoo_glyphnet.training import training_threads

    torch.set_num_threads(training_threads())
    # the post's architecture and optimiser: no extra decoder convs, no output low-pass, Adam(1e-3);
    # zoo trains through its own copy of the post's channel (two resamplings)
    model = zoo_core.build("glyphnet", affine_p=affine_p, schedule="constant", decoder_depth=0, antialias=False,
                           channel="post")
    cfg = model.config
    session = model.training_session(None, steps + 1, TrainContext(world=World()))  # Adam, train mode

    def train_step(step: int) -> float:
        return session.run(step, step)[0]["loss"]

    torch.manual_seed(0)
    gen, dec = reference_networks(cfg["msg_size"], cfg["widths"], cfg["channels"])
    channel = reference_channel(affine_p)
    ref_opt = torch.optim.Adam([*gen.parameters(), *dec.parameters()], lr=1e-3)
    gen.train()
    dec.train()

    def ref_step() -> float:
        msgs = torch.randn(128, cfg["msg_size"])
        loss = F.mse_loss(dec(channel(gen(msgs))), msgs)
        ref_opt.zero_grad(set_to_none=True)
        loss.backward()
        ref_opt.step()
        return float(loss.detach())

    # warm-up (allocator, oneDNN primitive caches) outside the timings
    train_step(1)
    ref_step()
    zoo_time = ref_time = 0.0
    zoo_losses, ref_losses = [], []
    done = 0
    while done < steps:
        n = min(block, steps - done)
        t0 = time.perf_counter()
        zoo_losses += [train_step(done + i + 2) for i in range(n)]
        t1 = time.perf_counter()
        ref_losses += [ref_step() for _ in range(n)]
        t2 = time.perf_counter()
        zoo_time += t1 - t0
        ref_time += t2 - t1
        done += n

    session.close()
    # the same held-out messages through the same (reference) channel, both in eval mode
    model.generator.eval()
    model.decoder.eval()
    gen.eval()
    dec.eval()
    msgs = torch.from_numpy(np.random.default_rng(12345).standard_normal((1000, cfg["msg_size"])).astype(np.float32))
    results = {}
    with torch.no_grad():
        for label, g, d in (("zoo", model.generator, model.decoder), ("reference", gen, dec)):
            torch.manual_seed(777)  # same kornia draws for both
            sq = [F.mse_loss(d(channel(g(m))), m).item() for m in msgs.split(250)]
            results[label] = float(np.mean(sq))
    return {
        "steps": steps, "threads": torch.get_num_threads(), "affine_p": affine_p,
        "zoo_steps_per_s": steps / zoo_time, "ref_steps_per_s": steps / ref_time,
        "speedup": ref_time / zoo_time,
        "zoo_mse": results["zoo"], "ref_mse": results["reference"],
        "zoo_last50_loss": float(np.mean(zoo_losses[-50:])), "ref_last50_loss": float(np.mean(ref_losses[-50:])),
    }


# -- 2. sampling -----------------------------------------------------------------------------------


def bench_sample(n: int, repeats: int) -> dict:
    """images/s of ``model.sample`` against a bare no_grad forward of the same generator."""
    import torch

    import zoo_core

    model = zoo_core.load("glyphnet-64")
    gen = model.generator.eval()
    model.sample(n, seed=0)
    with torch.no_grad():
        gen(torch.randn(n, model.latent_size))
    zoo_t, bare_t = [], []
    for r in range(repeats):
        t0 = time.perf_counter()
        model.sample(n, seed=r)
        t1 = time.perf_counter()
        with torch.no_grad():
            gen(torch.randn(n, model.latent_size))
        t2 = time.perf_counter()
        zoo_t.append(t1 - t0)
        bare_t.append(t2 - t1)
    zoo_rate, bare_rate = n / statistics.median(zoo_t), n / statistics.median(bare_t)
    return {"n": n, "repeats": repeats, "threads": torch.get_num_threads(), "zoo_images_per_s": zoo_rate,
            "bare_images_per_s": bare_rate, "ratio": zoo_rate / bare_rate}


# -- 3. CLI start-up -------------------------------------------------------------------------------


def bench_cli(repeats: int) -> dict:
    """Median wall time of ``zoo sample glyphnet-64 -n 64`` and of ``python -c 'import torch'``."""
    zoo = str(Path(sys.executable).with_name("zoo"))
    with tempfile.TemporaryDirectory() as tmp:
        sample_cmd = [zoo, "sample", "glyphnet-64", "-n", "64", "-o", str(Path(tmp) / "g.png")]
        torch_cmd = [sys.executable, "-c", "import torch"]
        for cmd in (sample_cmd, torch_cmd):  # warm the file cache
            subprocess.run(cmd, check=True, capture_output=True)
        zoo_t, torch_t = [], []
        for _ in range(repeats):
            for cmd, times in ((sample_cmd, zoo_t), (torch_cmd, torch_t)):
                t0 = time.perf_counter()
                subprocess.run(cmd, check=True, capture_output=True)
                times.append(time.perf_counter() - t0)
    z, t = statistics.median(zoo_t), statistics.median(torch_t)
    return {"repeats": repeats, "zoo_sample_s": z, "import_torch_s": t, "ratio": z / t}


# -- report ----------------------------------------------------------------------------------------


def markdown(results: dict, command: str) -> str:
    """The ``## glyphnet`` section of docs/benchmarks.md for these results."""
    import torch

    lines = ["## glyphnet", "",
             f"Date: {_dt.date.today().isoformat()}. Machine: {platform.machine()}, {os.cpu_count()} cores "
             f"(1-minute load average {os.getloadavg()[0]:.1f} at the end), torch {torch.__version__} CPU, "
             f"Python {platform.python_version()}.", "",
             "Command:", "", "```", command, "```", ""]
    if "train" in results:
        r = results["train"]
        lines += [f"**Training** ({r['steps']} steps each, batch 128, same architecture, {r['threads']} thread(s), "
                  f"interleaved blocks; affine warp p={r['affine_p']:g} in both, as in the post's kornia code):", "",
                  "| recipe | steps/s | held-out MSE (post's kornia channel) | mean loss, last 50 steps |",
                  "|---|---|---|---|",
                  f"| zoo glyphnet (torch grid_sample channel) | {r['zoo_steps_per_s']:.2f} | {r['zoo_mse']:.4f} "
                  f"| {r['zoo_last50_loss']:.4f} |",
                  f"| reference (kornia RandomAffine + RandomPerspective) | {r['ref_steps_per_s']:.2f} "
                  f"| {r['ref_mse']:.4f} | {r['ref_last50_loss']:.4f} |", "",
                  f"Speed-up: **{r['speedup']:.2f}x** (target >= 1.0x at equal or lower MSE: "
                  f"{'met' if r['speedup'] >= 1.0 and r['zoo_mse'] <= r['ref_mse'] else 'NOT met'}).", ""]
    if "sample" in results:
        r = results["sample"]
        lines += [f"**Sampling** (glyphnet-64, {r['n']} images per call, median of {r['repeats']}, "
                  f"{r['threads']} thread(s)): `model.sample` {r['zoo_images_per_s']:.0f} images/s, bare "
                  f"`torch.no_grad()` generator forward {r['bare_images_per_s']:.0f} images/s: "
                  f"**{r['ratio']:.2f}x** (target >= 0.95x, issue #15).", ""]
    if "cli" in results:
        r = results["cli"]
        lines += [f"**CLI** (median of {r['repeats']} alternating runs): `zoo sample glyphnet-64 -n 64` "
                  f"{r['zoo_sample_s']:.2f} s, `python -c \"import torch\"` {r['import_torch_s']:.2f} s: "
                  f"**{r['ratio']:.2f}x** (target <= 1.3x, issue #15).", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["train", "sample", "cli"], action="append",
                        help="run only these benchmarks (repeatable)")
    parser.add_argument("--steps", type=int, default=300, help="training steps of each recipe")
    parser.add_argument("--block", type=int, default=25, help="steps per interleaved block")
    parser.add_argument("--affine-p", type=float, default=0.5, help="affine warp probability in both recipes")
    parser.add_argument("--sample-n", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--append", type=Path, help="append the markdown section to this file")
    args = parser.parse_args(argv)
    which = args.only or ["train", "sample", "cli"]
    results = {}
    if "train" in which:
        results["train"] = bench_train(args.steps, args.block, args.affine_p)
        print(results["train"], flush=True)
    if "sample" in which:
        results["sample"] = bench_sample(args.sample_n, args.repeats)
        print(results["sample"], flush=True)
    if "cli" in which:
        results["cli"] = bench_cli(args.repeats)
        print(results["cli"], flush=True)
    env = " ".join(f"{k}={os.environ[k]}" for k in ("OMP_NUM_THREADS",) if k in os.environ)
    command = " ".join(filter(None, [env, ".venv/bin/python benchmarks/bench_glyphnet.py",
                                     shlex.join(argv if argv is not None else sys.argv[1:])]))
    text = markdown(results, command)
    print(text)
    if args.append:  # replaces an older copy of the section
        sys.path.insert(0, str(Path(__file__).parent))
        from report import replace_section

        replace_section(text, args.append)
    return 0


if __name__ == "__main__":
    sys.exit(main())
