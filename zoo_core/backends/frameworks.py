"""Importing Keras 3 on its TensorFlow backend, quietly and with one-line errors.

Shared by every Keras plugin: it must run before the first ``import keras`` of the process.
"""

from __future__ import annotations

import os
import sys
import tempfile
from types import ModuleType

from zoo_core.errors import MissingFrameworkError, ZooError


def _import_quietly(name: str) -> ModuleType:
    """Import ``name`` with file descriptor 2 sent to a temp file.

    TensorFlow's C++ runtime prints notices (oneDNN, absl) on stderr while its library loads,
    before any log level applies. They are dropped when the import succeeds and replayed on
    stderr when it fails, so no real error is hidden.
    """
    import importlib

    if name in sys.modules:
        return sys.modules[name]
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            return importlib.import_module(name)
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def import_keras(family: str) -> ModuleType:
    """Return the ``keras`` module on the TensorFlow backend, or raise a one-line error.

    :param family: the family asking, named in the error when another backend is configured.
    """
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    backend = os.environ["KERAS_BACKEND"]
    if backend != "tensorflow":
        raise ZooError(f"family '{family}' needs the TensorFlow Keras backend, but KERAS_BACKEND={backend!r}; "
                       "unset it or set KERAS_BACKEND=tensorflow")
    try:
        _import_quietly("tensorflow")
        keras = _import_quietly("keras")
    except ImportError as exc:
        raise MissingFrameworkError(f"family '{family}' needs keras and tensorflow ({exc}); "
                                    "install 'zoo[keras]'") from None
    if keras.backend.backend() != "tensorflow":
        raise ZooError(f"family '{family}' needs the TensorFlow Keras backend, but keras was already "
                       f"imported with '{keras.backend.backend()}'")
    return keras
