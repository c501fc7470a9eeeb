"""The one safe image decoder: a bounded regular file, Pillow's bomb guard as an error, one line."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from zoo_core.errors import ZooError


def decode_image(path: str | os.PathLike, error: type[ZooError] = ZooError,
                 check: Callable[[Any], None] | None = None) -> Any:
    """A loaded Pillow image decoded from an untrusted file, or one ``error`` line.

    The file must be a regular file under ``ZOO_MAX_DATA_BYTES``; Pillow's decompression-bomb
    guard (its warning included) is an error, as is anything Pillow cannot decode. ``check``
    sees the opened image before its pixels are decoded (e.g. to keep a total size budget) and
    may raise a :class:`ZooError` of its own, which passes through unchanged.
    """
    import warnings

    from PIL import Image, UnidentifiedImageError

    from zoo_core.io.safeio import check_file, limit

    check_file(path, limit("data"), "image", error)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as pic:
                if check is not None:
                    check(pic)
                pic.load()
                return pic.copy()
    except ZooError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise error(f"{path}: refusing a possible decompression bomb ({exc})".splitlines()[0]) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise error(f"{path}: not a readable image ({type(exc).__name__})") from None


__all__ = ["decode_image"]
