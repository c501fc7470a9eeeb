"""Device choice: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``, checked against the framework.

A family's models run where their framework can put them: torch families on any device torch
sees, Keras families through TensorFlow's device placement (``cuda:N`` is TensorFlow's
``/GPU:N``), numpy families on the CPU only. ``auto`` picks an accelerator when one is present.
A device that is not there is a one-line :class:`~zoo_core.errors.ZooError`.
"""

from __future__ import annotations

import re

from zoo_core.errors import ZooError

DEVICE_HELP = "auto, cpu, cuda, cuda:N or mps (auto: an accelerator if one is present)"
_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d{1,3})?)$")


def check_device_text(spec: str) -> str:
    """Normalise and check the grammar of a device string (no framework import)."""
    text = str(spec).strip().lower()
    if not _PATTERN.match(text):
        raise ZooError(f"unknown device '{spec}': use {DEVICE_HELP}")
    return text


def resolve_device(spec: str | None, framework: str) -> str:
    """The concrete device (``cpu``, ``cuda:N`` or ``mps``) for ``spec`` under ``framework``."""
    text = check_device_text(spec or "cpu")
    if framework == "torch":
        return _torch_device(text)
    if framework in ("keras", "tensorflow"):
        return _tf_device(text)
    if text in ("auto", "cpu"):
        return "cpu"
    raise ZooError(f"device '{text}' is not available: {framework} models run on the CPU only")


def _torch_device(text: str) -> str:
    import torch

    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    default = _local_rank()  # one process per GPU under a launcher: rank r's own device
    if text == "auto":
        return f"cuda:{default % max(torch.cuda.device_count(), 1)}" if cuda else "mps" if mps else "cpu"
    if text == "cpu":
        return "cpu"
    if text == "mps":
        if not mps:
            raise ZooError("device 'mps' is not available: torch sees no Apple GPU")
        return "mps"
    index = int(text.partition(":")[2] or default)
    if not cuda:
        raise ZooError(f"device '{text}' is not available: torch sees no CUDA device")
    if index >= torch.cuda.device_count():
        raise ZooError(f"device '{text}' is not available: torch sees {torch.cuda.device_count()} CUDA device(s)")
    return f"cuda:{index}"


def _local_rank() -> int:
    from zoo_core.runtime.distributed import current_world

    return current_world().local_rank


def _tf_device(text: str) -> str:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if text == "auto":
        return f"cuda:{_local_rank() % len(gpus)}" if gpus else "cpu"
    if text == "cpu":
        return "cpu"
    index = 0 if text == "mps" else int(text.partition(":")[2] or _local_rank())
    if index >= len(gpus):
        raise ZooError(f"device '{text}' is not available: TensorFlow sees {len(gpus)} GPU(s)")
    return f"cuda:{index}"


def device_option(default: str = "cpu", note: str = ""):
    """The ``--device`` click option every command that runs a model shares (plugins' too)."""
    import click

    return click.option("--device", default=default, show_default=True, callback=lambda _c, _p, v: check_device_text(v),
                        help=f"{DEVICE_HELP}{note}.")


def tf_device_name(device: str) -> str:
    """TensorFlow's name for a resolved zoo device (``cuda:1`` -> ``/GPU:1``)."""
    return "/CPU:0" if device == "cpu" else f"/GPU:{device.partition(':')[2] or 0}"


__all__ = ["DEVICE_HELP", "check_device_text", "device_option", "resolve_device", "tf_device_name"]
