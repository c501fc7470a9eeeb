"""Keras on the TensorFlow backend for the VAE, or a one-line error.

The VAE's ``train_step`` records its forward pass on a ``tf.GradientTape`` and the input
pipeline is ``tf.data``, so Keras must run on TensorFlow. :func:`zoo_core.backends.frameworks.import_keras`
sets the environment before Keras is first imported, checks the backend Keras actually chose
(another plugin may have imported it earlier) and keeps TensorFlow's start-up notices quiet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zoo_core.backends.frameworks import import_keras

if TYPE_CHECKING:  # pragma: no cover - the modules, for annotations such as keras.Model
    import keras
    import tensorflow as tf
else:
    keras = import_keras("vae")
    import tensorflow as tf  # already loaded by import_keras; the VAE uses tf directly

__all__ = ["keras", "tf"]
