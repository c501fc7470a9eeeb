"""The one model interface every family implements, whatever its framework."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from zoo_core.errors import ConfigError, NotTrainableError, ZooError
from zoo_core.io.files import CONFIG_FILE, WEIGHTS_FILE
from zoo_core.io.weights import check_state, load_tensors

if TYPE_CHECKING:  # pragma: no cover
    from zoo_core.families import Family
    from zoo_core.runtime.sessions import History, TrainContext, TrainingSession

FORMAT = "zoo-model/1"

#: A training callback: ``callback(step, logs)`` after each step; ``logs`` maps metric -> float.
Callback = Callable[[int, Mapping[str, float]], Any]


#: The most images one ``sample`` call makes (``zoo sample -n`` has the same bound).
MAX_SAMPLES = 4096


def check_sample_args(n: Any, seed: Any) -> tuple[int, int]:
    """``n`` and ``seed`` as ints, or a one-line :class:`ConfigError`: what ``zoo sample`` checks too."""
    from zoo_core.config import MAX_SEED

    def as_int(value: Any) -> int | None:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            return None
        return int(value)

    count, chosen = as_int(n), as_int(seed)
    if count is None or not 0 <= count <= MAX_SAMPLES:  # 0: an empty (0, H, W, C) array, as the contract says
        raise ConfigError(f"sample: n must be an integer from 0 to {MAX_SAMPLES}, not {_shown(n)}")
    if chosen is None or not 0 <= chosen <= MAX_SEED:
        raise ConfigError(f"sample: seed must be an integer from 0 to {MAX_SEED}, not {_shown(seed)}")
    return count, chosen


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "..."


def _checked_sample(method: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """``method`` behind :func:`check_sample_args` and, for many images, the memory estimate."""
    import functools

    @functools.wraps(method)
    def sample(self: ZooModel, n: int, seed: int = 0, *args: Any, **kwargs: Any) -> np.ndarray:
        n, seed = check_sample_args(n, seed)
        if n > 1 and self.family is not None:
            from zoo_core.backends.memory import check_memory

            check_memory(self.family, self.config, n, "sample")
        return method(self, n, seed, *args, **kwargs)  # a family's own extra options pass through

    sample._zoo_checked = True  # type: ignore[attr-defined]  # a marker on the function object
    return sample


class ZooModel:
    """Base class of all zoo models.

    Subclasses implement :meth:`sample`, :meth:`state_dict` and :meth:`load_state_dict`, and
    :meth:`training_session` when the family learns its weights (that override is the one
    declaration of trainability: ``Family.trainable`` is derived from it). ``__init__(config,
    family)`` receives the fully validated config and must build the model with fresh (seeded)
    weights. The contract's version is :data:`zoo_core.contract.CONTRACT_VERSION`.
    """

    # Declared for the type checker only (no class attribute): set on instances by others.
    #: the name :func:`zoo_core.build` / :func:`zoo_core.load` gave the model
    name: str
    #: set by :func:`zoo_core.runtime.fit`: what ``train(..., resume=True)`` continues from without checkpoints
    _continuation: dict[str, Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Wrap each subclass's own :meth:`sample` in the one boundary check of ``n`` and ``seed``."""
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("sample")
        if own is not None and not getattr(own, "_zoo_checked", False):
            cls.sample = _checked_sample(own)  # type: ignore[method-assign]  # the subclass's own sample, wrapped

    def __init__(self, config: Mapping[str, Any], family: Family | None = None) -> None:
        self.config: dict = dict(config)
        self.family = family
        #: where the model runs (``cpu``, ``cuda:N``, ``mps``); set by :meth:`to`
        self.device = "cpu"

    # -- the interface -------------------------------------------------------------------------

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """Generate ``n`` images as ``uint8`` of shape ``(n, H, W, C)``; same seed, same bits."""
        raise NotImplementedError

    def training_session(self, data: Any, steps: int, ctx: TrainContext) -> TrainingSession:
        """The family's training algorithm for the shared runtime (:mod:`zoo_core.runtime`).

        Override it to make the family trainable: return a
        :class:`~zoo_core.runtime.sessions.TrainingSession` that trains on ``data`` (``None``: the
        family's default) towards the run's total ``steps``, on ``ctx.device``, on this rank's
        shard of each batch (``ctx.world``). Families whose weights are not learned keep this
        default, which raises :class:`NotTrainableError`.
        """
        raise NotTrainableError(f"family '{self.family_name}' is not trainable: its model class defines no "
                                "training_session (its weights are not learned)")

    def train(self, data: Any = None, *, steps: int | None = None, callbacks: Iterable[Callback] = (),
              progress: bool = True, **options: Any) -> History:
        """Train in place until global step ``steps`` (a total; default ``config["steps"]``).

        Runs :meth:`training_session` under :func:`zoo_core.runtime.fit`: ``options`` are those of
        ``fit`` (``run_dir``, ``checkpoint_dir``, ``resume``, ``checkpoint_every``, ``keep``,
        ``evaluate``). The returned :class:`History` covers every step from 1, resumed ones
        included. Families whose weights are not learned raise :class:`NotTrainableError`.
        Do not override it (plugin contract 1 did; see "Migrating plugins" in docs/plugins.md).

        ``progress`` (default True): draw the CLI's progress bar on stderr (step, metrics, steps/s,
        elapsed time, ETA); in a Jupyter notebook tqdm's widget when tqdm is installed. On Ctrl-C
        the steps in flight finish, a checkpoint is written (with a run or checkpoint folder) and
        the line to resume is printed before :class:`KeyboardInterrupt` propagates.
        """
        from zoo_core.runtime.progress import fit_with_progress

        return fit_with_progress(self, data, steps=steps, callbacks=callbacks, progress=progress, **options)

    def to(self, device: str) -> ZooModel:
        """Move the model to a resolved device (``cpu``, ``cuda:N``, ``mps``); returns ``self``.

        The base class runs on the CPU only; framework families override this.
        """
        if device != "cpu":
            raise ZooError(f"device '{device}' is not available: family '{self.family_name}' runs on the CPU only")
        self.device = "cpu"
        return self

    def sample_svg(self, n: int, seed: int = 0) -> str:
        """Optional vector form of :meth:`sample`: one SVG document holding one ``<symbol>`` per image
        (the same images, drawn as paths), for families whose models draw strokes.

        ``zoo sample NAME -o FILE.svg`` writes it. The base class raises :class:`ZooError`: the
        family draws pixels, not paths.
        """
        raise ZooError(f"model of family '{self.family_name}' draws pixels, not strokes: it has no SVG form "
                       "(write .png, .npy or .npz)")

    def evaluate(self, data: Any = None, *, seed: int = 0) -> dict[str, Any]:
        """Family-specific quality metrics as a flat JSON-ready dict (``zoo eval`` prints it)."""
        raise ZooError(f"family '{self.family_name}' defines no evaluation")

    def state_dict(self) -> dict[str, np.ndarray]:
        """All weights as ``{name: numpy array}`` (copies or views; never framework tensors)."""
        raise NotImplementedError

    def load_state_dict(self, tensors: Mapping[str, np.ndarray]) -> None:
        """Set weights from arrays whose names, shapes and dtypes were already checked."""
        raise NotImplementedError

    # -- shared behaviour ----------------------------------------------------------------------

    @property
    def family_name(self) -> str:
        """The family name, or the class name for a model built without the registry."""
        return self.family.name if self.family else type(self).__name__

    @property
    def num_parameters(self) -> int:
        """Number of scalar weights (trainable or not) in the model."""
        return int(sum(int(np.prod(t.shape)) for t in self.state_dict().values()))

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(H, W, C)`` of the images :meth:`sample` returns."""
        images = self.sample(1, seed=0)
        return tuple(images.shape[1:])

    def load_weights(self, path: str | Path) -> None:
        """Load a safetensors file, checking every tensor's name, shape and dtype first."""
        tensors = load_tensors(path)
        check_state(self.state_dict(), tensors, str(path))
        self.load_state_dict(tensors)

    def save(self, directory: str | Path, extra: Mapping[str, Any] | None = None) -> Path:
        """Write ``config.json`` and ``model.safetensors`` (Hugging Face layout) into ``directory``.

        :param extra: more JSON-ready metadata to store in ``config.json`` (e.g. eval numbers).
        """
        from zoo_core import __version__
        from zoo_core.io.weights import replace_files, tensors_bytes

        data, sha = tensors_bytes(self.state_dict(), metadata={"format": FORMAT})
        meta = {"format": FORMAT, "zoo_version": __version__, "family": self.family_name,
                "plugin": self.family.plugin if self.family else "",
                "framework": self.family.framework if self.family else "",
                "config": self.config, "weights_sha256": sha}
        meta.update(extra or {})
        config = (json.dumps(meta, indent=2) + "\n").encode()
        replace_files(directory, {WEIGHTS_FILE: data, CONFIG_FILE: config})
        return Path(directory)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} family={self.family_name!r} params={self.num_parameters:,}>"


class LatentModel(ZooModel):
    """A model that decodes a latent vector into an image (enables ``zoo interpolate``)."""

    #: length of the latent vector
    latent_size: int = 0

    def sample_latent(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` latent vectors from the prior, float32 ``(n, latent_size)``; N(0, 1) by default."""
        return np.random.default_rng(seed).standard_normal((n, self.latent_size)).astype(np.float32)

    def decode(self, latents: np.ndarray) -> np.ndarray:
        """Images for the given latents, ``uint8 (n, H, W, C)``."""
        raise NotImplementedError

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """Decode ``n`` latents drawn from the prior with ``seed``."""
        return self.decode(self.sample_latent(n, seed))


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Float images in [0, 1] -> uint8, rounding to nearest (NHWC in, NHWC out)."""
    return np.clip(np.rint(np.asarray(images, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)
