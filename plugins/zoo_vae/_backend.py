"""Import Keras on the TensorFlow backend, or fail with one line.

The VAE's ``train_step`` records its forward pass on a ``tf.GradientTape`` and the input
pipeline is ``tf.data``, so Keras must run on TensorFlow. This module sets the environment
before Keras is first imported and checks the backend Keras actually chose (another plugin may
have imported Keras earlier in the process).
"""

from __future__ import annotations

import os

from zoo_core.errors import ZooError

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# TensorFlow C++ logs (including benign grappler "errors") stay off the terminal.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

_WANT = "tensorflow"


def _refuse(backend: str) -> ZooError:
    return ZooError(f"zoo_vae needs Keras on the TensorFlow backend (its train_step uses tf.GradientTape), "
                    f"but KERAS_BACKEND={backend!r}; unset KERAS_BACKEND or set it to tensorflow")


if os.environ["KERAS_BACKEND"] != _WANT:
    raise _refuse(os.environ["KERAS_BACKEND"])

import keras  # noqa: E402  (after the environment is set: Keras reads KERAS_BACKEND on import)
import tensorflow as tf  # noqa: E402

if keras.backend.backend() != _WANT:
    raise _refuse(keras.backend.backend())

__all__ = ["keras", "tf"]
