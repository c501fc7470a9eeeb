"""Where a data-parallel glyphnet step spends its time: each phase timed on every rank.

Run under torchrun (gloo on the CPU), one thread per rank; prints rank 0's mean milliseconds per
phase over the steps after the first five. ``--wrap`` chooses how DDP wraps the networks:

* ``one``: what zoo does, one wrapper over the whole forward pass with one bucket (a single
  all-reduce after the backward pass) and no per-forward buffer broadcast;
* ``two``: one wrapper each around generator and decoder with DDP's defaults (buckets overlapped
  with the backward pass, buffers broadcast before each forward): what zoo did before;
* ``none``: no DDP (with one process: the 1-worker baseline).

    OMP_NUM_THREADS=1 torchrun --standalone --nproc-per-node 2 benchmarks/profile_ddp_step.py --wrap one
    OMP_NUM_THREADS=1 torchrun --standalone --nproc-per-node 1 benchmarks/profile_ddp_step.py --wrap none

``ZOO_KEEP_FREED_MEMORY=0`` leaves glibc's allocator as it is (zoo_core.backends.allocator); the numbers
of docs/distributed.md came from this script on the project's 2-core machine.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

import zoo_core
from zoo_core.backends.allocator import keep_freed_memory
from zoo_core.runtime.distributed import current_world, shard
from zoo_core.runtime import step_seed
from zoo_glyphnet.training import _ONE_BUCKET_MB, _Pipeline, draw_messages, glyph_penalty, message_loss

PHASES = ("generator", "channel", "decoder", "backward", "optimizer", "total")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wrap", choices=("one", "two", "none"), default="one")
    parser.add_argument("--batch", type=int, default=128, help="global batch")
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args()
    torch.set_num_threads(1)
    keep_freed_memory()
    dist.init_process_group("gloo")
    rank, size = dist.get_rank(), dist.get_world_size()
    model = zoo_core.build("glyphnet", batch_size=args.batch)
    cfg = model.config
    gen_net, dec_net = model.generator.train(), model.decoder.train()
    if args.wrap == "two":
        gen_net, dec_net = DDP(gen_net), DDP(dec_net)
    elif args.wrap == "one":
        both = DDP(_Pipeline(model), bucket_cap_mb=_ONE_BUCKET_MB, broadcast_buffers=False,
                   gradient_as_bucket_view=True)  # as GlyphNetSession wraps it
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    part = shard(args.batch, current_world())  # the session's own split of the global batch
    totals = dict.fromkeys(PHASES, 0.0)
    for step in range(1, args.steps + 1):
        t0 = time.perf_counter()
        messages = draw_messages(cfg, torch.Generator().manual_seed(step_seed(cfg["seed"], step)))[part]
        noise = torch.Generator().manual_seed(step_seed(cfg["seed"], step, stream=1 + rank))
        if args.wrap == "one":
            images, received, _ = both(messages, noise, False)
            t1 = t2 = t3 = time.perf_counter()
        else:
            images = gen_net(messages)
            t1 = time.perf_counter()
            distorted = model.channel(images, generator=noise)
            t2 = time.perf_counter()
            received = dec_net(distorted)
            t3 = time.perf_counter()
        loss = message_loss("continuous", received, messages) + glyph_penalty(cfg, images, messages)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        t4 = time.perf_counter()
        optimizer.step()
        t5 = time.perf_counter()
        if step > 5:
            for key, value in zip(PHASES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t5 - t0)):
                totals[key] += value
    if rank == 0:
        n = args.steps - 5
        shown = " ".join(f"{k}={1000 * v / n:.1f}" for k, v in totals.items())
        print(f"wrap={args.wrap} workers={size} batch={args.batch} ms/step: {shown}", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
