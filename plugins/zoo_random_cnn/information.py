"""How much information a random-CNN image carries: lossless coders against the bit budgets.

The seed notebook claims that an image drawn with ``soph`` bits of weights and ``noise`` bits of
input carries about ``soph + noise`` of its ``uncompressed`` (``H*W*C*4``) bits. Two kinds of
numbers bound that content from above:

* **lossless coders** of the 4-bit image (:data:`CODERS`): ``lzma`` (LZMA2, preset 9 extreme,
  raw stream without container, on the image packed two pixels per byte), ``png`` (Pillow,
  optimize; 4-bit greyscale for grey images, 8-bit RGB for colour) and ``webp`` (Pillow/libwebp
  lossless, method 6, the strongest of the three on photographs and smooth fields). Every
  encoding is decoded again and compared with the image, so a number is never that of a lossy or
  broken encoding. Sizes include each format's headers.
* the **model-class bound**: given the architecture (a function of the config, which costs no
  bits here), the image is fixed by its weights and its input as the model encodes them: every
  weight is one of ``2^bpw + 1`` equiprobable levels (``log2(2^bpw + 1)`` bits) and every input
  value one bit. ``model_bound_bits = parameters * log2(2^bpw + 1) + input_bits``.

Everything here is numpy, Pillow and the standard library: no Keras.
"""

from __future__ import annotations

import io
import lzma
import math
from collections.abc import Iterable, Mapping

import numpy as np

#: the lossless coders, in report order.
CODERS = ("lzma", "png", "webp")

_LZMA_FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME}]


def to_levels(image: np.ndarray) -> np.ndarray:
    """A uint8 ``(H, W, C)`` image of 16 levels (``level * 17``, as the model returns) -> levels 0..15.

    :raises ValueError: when the image is not such a 4-bit image.
    """
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3:
        raise ValueError(f"expected a uint8 (H, W, C) image, got {image.dtype} {image.shape}")
    levels, rest = np.divmod(image, np.uint8(17))
    if rest.any():
        raise ValueError("image has values that are not multiples of 17: not a 4-bit image")
    return levels


def pack_nibbles(levels: np.ndarray) -> bytes:
    """Levels 0..15 in raster order (channels interleaved), two per byte: the uncompressed bits."""
    flat = np.asarray(levels, dtype=np.uint8).reshape(-1)
    if flat.size % 2:
        flat = np.concatenate([flat, np.zeros(1, np.uint8)])
    return (flat[0::2] << 4 | flat[1::2]).tobytes()


def _lzma(levels: np.ndarray) -> int:
    packed = pack_nibbles(levels)
    data = lzma.compress(packed, format=lzma.FORMAT_RAW, filters=_LZMA_FILTERS)
    if lzma.decompress(data, format=lzma.FORMAT_RAW, filters=_LZMA_FILTERS) != packed:
        raise RuntimeError("lzma round trip failed")
    return 8 * len(data)


def _pillow_image(levels: np.ndarray):
    from PIL import Image

    pixels = levels * np.uint8(17)
    if pixels.shape[2] == 1:
        return Image.fromarray(pixels[:, :, 0], mode="L")
    if pixels.shape[2] == 3:
        return Image.fromarray(pixels, mode="RGB")
    raise ValueError(f"cannot code {pixels.shape[2]} channels as an image (1 or 3)")


def _check_decoded(data: bytes, levels: np.ndarray, coder: str) -> None:
    from PIL import Image

    back = np.asarray(Image.open(io.BytesIO(data)))
    if back.ndim == 2:
        back = back[:, :, None]
    if levels.shape[2] == 1 and back.shape[2] != 1:  # webp decodes grey as RGB
        if not (back == back[:, :, :1]).all():
            raise RuntimeError(f"{coder} round trip failed")
        back = back[:, :, :1]
    if back.shape != levels.shape or not np.array_equal(back, levels * np.uint8(17)):
        raise RuntimeError(f"{coder} round trip failed")


def _png(levels: np.ndarray) -> int:
    buffer = io.BytesIO()
    options = {"bits": 4} if levels.shape[2] == 1 else {}
    _pillow_image(levels).save(buffer, format="PNG", optimize=True, **options)
    data = buffer.getvalue()
    _check_decoded(data, levels, "png")
    return 8 * len(data)


def _webp(levels: np.ndarray) -> int:
    buffer = io.BytesIO()
    image = _pillow_image(levels)
    if image.mode == "L":
        image = image.convert("RGB")
    image.save(buffer, format="WEBP", lossless=True, quality=100, method=6)
    data = buffer.getvalue()
    _check_decoded(data, levels, "webp")
    return 8 * len(data)


_CODER_FUNCS = {"lzma": _lzma, "png": _png, "webp": _webp}


def compressed_bits(image: np.ndarray, coders: Iterable[str] = CODERS) -> dict[str, int]:
    """Bits of ``image`` (uint8 ``(H, W, C)``, 16 levels) under each lossless coder, headers included."""
    levels = to_levels(image)
    return {name: _CODER_FUNCS[name](levels) for name in coders}


def model_bound_bits(parameters: int, bits_per_weight: int, input_bits: int) -> float:
    """Bits that describe an image given the architecture: weights at ``log2(2^bpw + 1)`` bits each
    (the quantized Laplace's equiprobable levels) plus one bit per binary input value."""
    return parameters * math.log2(2 ** bits_per_weight + 1) + input_bits


def image_information(images: np.ndarray, *, uncompressed: int, soph: int, noise: int, parameters: int,
                      bits_per_weight: int, input_bits: int,
                      coders: Iterable[str] = CODERS) -> dict[str, float | int]:
    """The information table of a model's images: budgets, coder sizes, the model-class bound.

    ``images`` is uint8 ``(n, H, W, C)``; coder sizes are means over the images. Keys (``*_bits``
    in bits, ``*_frac`` as a fraction of ``uncompressed``): ``uncompressed_bits``, ``soph_bits``,
    ``noise_bits``, ``soph_plus_noise_bits`` and their fractions; ``<coder>_bits`` /
    ``<coder>_frac`` for every coder; ``best_coder_bits`` / ``best_coder_frac`` (the smallest coder,
    per image, averaged); ``model_bound_bits`` / ``model_bound_frac``; ``information_bound_bits`` /
    ``information_bound_frac`` (the smaller of the best coder and the model bound); ``std8`` and
    ``std8_min`` (mean and smallest 8-bit standard deviation of the images).
    """
    images = np.asarray(images)
    coders = tuple(coders)
    sizes = [compressed_bits(im, coders) for im in images]
    out: dict[str, float | int] = {
        "images": len(images),
        "uncompressed_bits": int(uncompressed),
        "soph_bits": int(soph),
        "noise_bits": int(noise),
        "soph_plus_noise_bits": int(soph + noise),
    }
    for key in ("soph", "noise", "soph_plus_noise"):
        out[f"{key}_frac"] = out[f"{key}_bits"] / uncompressed
    for name in coders:
        bits = float(np.mean([s[name] for s in sizes]))
        out[f"{name}_bits"] = bits
        out[f"{name}_frac"] = bits / uncompressed
    best = float(np.mean([min(s.values()) for s in sizes]))
    bound = model_bound_bits(parameters, bits_per_weight, input_bits)
    out.update(best_coder_bits=best, best_coder_frac=best / uncompressed,
               model_bound_bits=bound, model_bound_frac=bound / uncompressed,
               information_bound_bits=min(best, bound), information_bound_frac=min(best, bound) / uncompressed,
               std8=float(np.mean([im.astype(np.float64).std() for im in images])),
               std8_min=float(min(im.astype(np.float64).std() for im in images)))
    return out


def rank_correlation(x: Iterable[float], y: Iterable[float]) -> float:
    """Spearman's rank correlation (Pearson correlation of the ranks, ties given their mean rank)."""
    a, b = _ranks(np.asarray(list(x), float)), _ranks(np.asarray(list(y), float))
    if len(a) != len(b) or len(a) < 2:
        raise ValueError("need two sequences of the same length >= 2")
    a, b = a - a.mean(), b - b.mean()
    denom = math.sqrt(float((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denom) if denom else float("nan")


def _ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values), float)
    sorted_values = values[order]
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and sorted_values[j + 1] == sorted_values[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


#: a grid cell is "low budget" when soph + noise is at most this fraction of the uncompressed bits
#: (s + q <= 4 steps of the n = 16 grid).
LOW_BUDGET = 0.25
#: an image is flat when its 8-bit standard deviation is below this.
FLAT_STD8 = 10.0


def grid_statistics(rows: Iterable[Mapping[str, float]]) -> dict[str, float | int]:
    """Summary of a grid's information rows (dicts from :func:`image_information`).

    ``rank_budget`` is Spearman's correlation between ``soph + noise`` and the best coder's size
    over the cells (``rank_soph`` / ``rank_noise`` against each budget alone, ``rank_bound``
    between the model-class bound and the coder size); ``low_budget_max_frac`` the largest coder
    fraction among cells whose budget is at most :data:`LOW_BUDGET` of the raw bits; ``flat``
    the number of cells whose images have an 8-bit std below :data:`FLAT_STD8`.
    """
    rows = list(rows)
    if not rows:
        raise ValueError("no grid cells to summarise")
    size = [r["best_coder_bits"] for r in rows]

    def rank(key: str) -> float:
        return rank_correlation([r[key] for r in rows], size) if len(rows) > 1 else float("nan")

    low = [r["best_coder_frac"] for r in rows if r["soph_plus_noise_frac"] <= LOW_BUDGET]
    fracs = sorted(r["best_coder_frac"] for r in rows)
    return {
        "cells": len(rows),
        "rank_budget": rank("soph_plus_noise_bits"),
        "rank_soph": rank("soph_bits"),
        "rank_noise": rank("noise_bits"),
        "rank_bound": rank("model_bound_bits"),
        "median_frac": float(np.median(fracs)),
        "min_frac": fracs[0],
        "max_frac": fracs[-1],
        "low_budget_cells": len(low),
        "low_budget_max_frac": max(low) if low else float("nan"),
        "flat": sum(r["std8_min"] < FLAT_STD8 for r in rows),
    }
