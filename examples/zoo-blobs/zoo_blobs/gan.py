"""The blobgan model: a small GAN (two networks, two optimizers) of blob images, in PyTorch.

A generator (MLP: latent -> hidden -> pixels, sigmoid) and a discriminator (MLP: pixels ->
hidden -> one logit) trained with the non-saturating GAN loss, each by its own Adam. It is the
worked two-network example of docs/plugins.md ("Migrating plugins"): the training session holds
both networks and both optimizers, splits each global batch over the workers with
:func:`~zoo_core.runtime.distributed.shard`, averages gradients across them, puts everything on
``ctx.device`` and checkpoints a 0-d step counter (the runtime keeps 0-d arrays 0-d).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from zoo_core.backends.torchstate import load_optimizer_state, optimizer_state
from zoo_core.model import LatentModel, to_uint8
from zoo_core.runtime.distributed import shard
from zoo_blobs.data import blob_images
from zoo_blobs.model import _as_images


def _networks(config: Mapping[str, Any]) -> tuple[nn.Module, nn.Module]:
    dims = config["size"] * config["size"] * config["channels"]
    hidden = config["hidden"]
    generator = nn.Sequential(nn.Linear(config["latent"], hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                              nn.Linear(hidden, dims), nn.Sigmoid())
    discriminator = nn.Sequential(nn.Linear(dims, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, 1))
    return generator, discriminator


class BlobGAN(LatentModel):
    """Generator + discriminator; samples decode N(0, 1) latents with the generator."""

    def __init__(self, config: Mapping[str, Any], family=None) -> None:
        super().__init__(config, family)
        self.latent_size = int(self.config["latent"])
        # seeded initial weights, without touching torch's global generator (fork_rng restores it)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self.config["seed"]))
            self.generator, self.discriminator = _networks(self.config)
        self.generator.eval()

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(size, size, channels)``, declared without sampling."""
        return (self.config["size"], self.config["size"], self.config["channels"])

    def to(self, device: str) -> "BlobGAN":
        """Move both networks to ``device`` (``cpu``, ``cuda:N``, ``mps``)."""
        self.generator.to(device)
        self.discriminator.to(device)
        self.device = device
        return self

    def decode(self, latents: np.ndarray) -> np.ndarray:
        """Images for the given latents, ``uint8 (n, H, W, C)``; each image depends on its latent only."""
        with torch.no_grad():
            z = torch.from_numpy(np.asarray(latents, dtype=np.float32)).to(self.device)
            x = self.generator(z).cpu().numpy() if len(z) else np.zeros((0, int(np.prod(self.image_shape))))
        return to_uint8(x.reshape(len(latents), *self.image_shape))

    def state_dict(self) -> dict[str, np.ndarray]:
        """Both networks: ``generator.*`` and ``discriminator.*`` (torch's names)."""
        out = {}
        for prefix, net in (("generator", self.generator), ("discriminator", self.discriminator)):
            for key, value in net.state_dict().items():
                out[f"{prefix}.{key}"] = value.detach().cpu().numpy().copy()
        return out

    def load_state_dict(self, tensors: Mapping[str, np.ndarray]) -> None:
        """Copy checked arrays into both networks (on their device)."""
        for prefix, net in (("generator", self.generator), ("discriminator", self.discriminator)):
            net.load_state_dict({k[len(prefix) + 1:]: torch.from_numpy(np.array(v))
                                 for k, v in tensors.items() if k.startswith(prefix + ".")})

    def evaluate(self, data: Any = None, *, seed: int = 0) -> dict[str, Any]:
        """Distance of 256 samples' mean image and pixel std to those of 256 held-out blob images (or ``data``).

        Held-out: generated from another stream than training's (``[seed, 3, eval seed]``); a
        ``--data`` file is evaluated on its last eighth, which training never draws from.
        """
        c = self.config
        if data is None:
            real = blob_images(256, c["size"], c["channels"], c["blobs"], np.random.default_rng([c["seed"], 3, seed]))
        else:
            images = _as_images(data, self.image_shape)
            real = images[len(images) - max(1, len(images) // 8):]
        fake = self.sample(256, seed=seed).astype(np.float32) / 255.0
        return {"mean_image_l1": float(np.abs(real.mean(0) - fake.mean(0)).mean()),
                "pixel_std_gap": float(abs(real.std() - fake.std())), "images": int(len(real))}

    def training_session(self, data: Any, steps: int, ctx: Any) -> "GANSession":
        """Both networks trained by the runtime (``zoo train blobgan -o RUN [--workers 2]``).

        :param data: ``None`` (blob images drawn from (seed, step)) or a ``.npy``/``.npz`` file /
            array of ``(N, H, W, C)`` images; a file trains on all but its last eighth (held out).
        """
        images = None
        if data is not None:
            images = _as_images(data, self.image_shape)
            images = images[: len(images) - max(1, len(images) // 8)] if len(images) > 1 else images
        return GANSession(self, images, ctx)


class GANSession:
    """Two networks, two Adam optimizers; each step: one discriminator update, one generator update."""

    steps_per_call = 1

    def __init__(self, model: BlobGAN, images: np.ndarray | None, ctx: Any) -> None:
        self.model, self.images, self.world = model, images, ctx.world
        self.examples = None if images is None else int(len(images))
        self.device = torch.device(ctx.device)
        model.to(ctx.device)
        self.world.init_torch(ctx.device)  # gloo on the CPU; a no-op in one process
        self.part = shard(int(model.config["batch_size"]), self.world)  # this rank's slice of each batch
        lr = float(model.config["lr"])
        self.opt_g = torch.optim.Adam(model.generator.parameters(), lr=lr, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(model.discriminator.parameters(), lr=lr, betas=(0.5, 0.999))
        self.step = np.zeros((), dtype=np.int64)  # a 0-d array: checkpoints keep it 0-d
        model.generator.train()
        self.loss = nn.BCEWithLogitsLoss()

    def _batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        c = self.model.config
        rng = np.random.default_rng([c["seed"], 1, step])  # the global batch, a function of (seed, step)
        if self.images is None:
            real = blob_images(c["batch_size"], c["size"], c["channels"], c["blobs"], rng)
        else:
            real = self.images[rng.integers(0, len(self.images), size=c["batch_size"])]
        z = rng.standard_normal((c["batch_size"], self.model.latent_size)).astype(np.float32)
        real = real.reshape(len(real), -1)[self.part]
        return torch.from_numpy(real).to(self.device), torch.from_numpy(z[self.part]).to(self.device)

    def _average(self, net: nn.Module) -> None:
        """Mean gradient over the workers (the update of the global batch)."""
        if not self.world.distributed:
            return
        import torch.distributed as dist

        for p in net.parameters():
            if p.grad is not None:
                dist.all_reduce(p.grad)
                p.grad /= self.world.size

    def run(self, first: int, last: int) -> list[dict[str, float]]:
        """GAN steps ``first..last``: ``d_loss`` and ``g_loss`` of this rank's shard."""
        g, d = self.model.generator, self.model.discriminator
        logs = []
        for step in range(first, last + 1):
            real, z = self._batch(step)
            ones, zeros = torch.ones(len(real), 1, device=self.device), torch.zeros(len(real), 1, device=self.device)
            fake = g(z)
            self.opt_d.zero_grad()
            d_loss = self.loss(d(real), ones) + self.loss(d(fake.detach()), zeros)
            d_loss.backward()
            self._average(d)
            self.opt_d.step()
            self.opt_g.zero_grad()
            g_loss = self.loss(d(fake), ones)
            g_loss.backward()
            self._average(g)
            self.opt_g.step()
            self.step = np.asarray(step, dtype=np.int64)
            logs.append({"d_loss": d_loss.item(), "g_loss": g_loss.item()})
        return logs

    def state(self) -> dict[str, np.ndarray]:
        """Both networks, both optimizers' slots (``g.optimizer.*``, ``d.optimizer.*``) and the step."""
        out = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        out.update({f"g.{k}": v for k, v in optimizer_state(self.opt_g).items()})
        out.update({f"d.{k}": v for k, v in optimizer_state(self.opt_d).items()})
        out["step"] = np.array(self.step)
        return out

    def load_state(self, tensors: Mapping[str, np.ndarray]) -> None:
        """Restore what :meth:`state` returned."""
        self.model.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
        load_optimizer_state(self.opt_g, {k[2:]: v for k, v in tensors.items() if k.startswith("g.")})
        load_optimizer_state(self.opt_d, {k[2:]: v for k, v in tensors.items() if k.startswith("d.")})
        self.step = np.array(tensors["step"], dtype=np.int64).reshape(())

    def close(self) -> None:
        """Back to evaluation mode."""
        self.model.generator.eval()
