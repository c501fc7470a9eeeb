"""Seeds and batches that are a function of (seed, step) alone, so a resumed run retraces an uninterrupted one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from zoo_core.errors import ZooError
from zoo_core.runtime.distributed import World

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

_MASK64 = (1 << 64) - 1


def splitmix64(x: int) -> int:
    """One round of the SplitMix64 mixer: a well-spread 64-bit integer from any integer."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def step_seed(seed: int, step: int, stream: int = 0) -> int:
    """A 63-bit seed for step ``step`` of a run seeded ``seed``; ``stream`` separates uses."""
    return splitmix64(splitmix64(splitmix64(stream) ^ int(seed)) ^ int(step)) >> 1


class BatchSampler:
    """Which examples global step ``k`` trains on: a function of (seed, k) alone.

    The examples are visited in epochs, each a permutation seeded by (seed, epoch); step ``k``
    takes positions ``[(k-1)*batch, k*batch)`` of the concatenated epochs, so nothing is
    repeated or skipped across a resume. In a world of several ranks each rank takes its
    contiguous shard of that global batch (:func:`zoo_core.runtime.distributed.shard`).
    """

    STREAM = 0x62617463  # "batc"

    def __init__(self, examples: int, batch: int, seed: int, world: World | None = None) -> None:
        from zoo_core.runtime.distributed import shard

        if examples < 1:
            raise ZooError("no training examples")
        self.examples, self.batch, self.seed = int(examples), int(batch), int(seed)
        self.part = shard(self.batch, world or World())
        self._perms: dict[int, np.ndarray] = {}

    def _perm(self, epoch: int) -> np.ndarray:
        import numpy as np

        if epoch not in self._perms:
            if len(self._perms) > 2:
                self._perms.pop(min(self._perms))
            rng = np.random.default_rng([self.STREAM, self.seed, epoch])
            self._perms[epoch] = rng.permutation(self.examples)
        return self._perms[epoch]

    def global_indices(self, step: int) -> np.ndarray:
        """Indices of the whole global batch of ``step`` (1-based)."""
        import numpy as np

        positions = np.arange((step - 1) * self.batch, step * self.batch, dtype=np.int64)
        epochs, offsets = np.divmod(positions, self.examples)
        out = np.empty(self.batch, dtype=np.int64)
        for epoch in np.unique(epochs):
            sel = epochs == epoch
            out[sel] = self._perm(int(epoch))[offsets[sel]]
        return out

    def indices(self, step: int) -> np.ndarray:
        """This rank's shard of the global batch of ``step``."""
        return self.global_indices(step)[self.part]


