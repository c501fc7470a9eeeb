"""The built-in glyph datasets: digits and capital letters rendered offline from fonts.

Deterministic for a given (spec, split, n, seed, fonts) and the fonts installed; see
:func:`glyphs`. Used through :func:`zoo_core.data.datasets.load_dataset` (``glyphs-28``...).
"""

from __future__ import annotations

import functools
import os
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from zoo_core.errors import DatasetError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


#: Characters of the glyph datasets; a glyph's label is its index here (class = character).
GLYPH_CLASSES = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


#: Built-in glyph specs -> (image size, channels).
GLYPH_SPECS = {"glyphs-28": (28, 1), "glyphs-64": (64, 1), "glyphs-28-rgb": (28, 3), "glyphs-64-rgb": (64, 3)}


#: Default number of images per split of the glyph datasets.
GLYPH_SIZES = {"train": 12000, "test": 2000}


# System fonts used when present (in this order, after Pillow's own font). A missing one is
# skipped, so the glyph datasets depend on the fonts installed: ``fonts="pillow"`` gives the
# same data on every machine with the same Pillow.
SYSTEM_FONTS = (
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSansCondensed.ttf",
    "DejaVuSansCondensed-Bold.ttf", "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSerifCondensed.ttf",
    "LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf", "LiberationSerif-Regular.ttf",
    "LiberationMono-Regular.ttf", "FreeSans.ttf", "FreeSansBold.ttf", "FreeSerif.ttf", "FreeMono.ttf",
)


FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts")


def glyphs(spec: str, split: str = "train", n: int | None = None, seed: int = 0,
           fonts: str = "all") -> tuple[np.ndarray, np.ndarray]:
    """Generate a glyph dataset (see :data:`GLYPH_SPECS`); cached, returned as fresh copies.

    Each image shows one character of :data:`GLYPH_CLASSES` (chosen uniformly) in a random
    font of :func:`glyph_fonts`, with a random stroke width and a random affine distortion
    (rotation, shear, anisotropic scale, translation), rendered at 4x (2x for 64 px) and box-filtered down.
    Grey sets draw a light glyph on black (like MNIST); RGB sets use a random colour pair of
    contrasting brightness.
    """
    if spec not in GLYPH_SPECS:
        raise DatasetError(f"unknown glyph set '{spec}' (known: {', '.join(GLYPH_SPECS)})")
    if fonts not in ("all", "pillow"):
        raise DatasetError(f"fonts must be 'all' or 'pillow', not {fonts!r}")
    count = GLYPH_SIZES[split] if n is None else int(n)
    images, labels = _glyphs_cached(spec, split, count, int(seed), fonts)
    return images.copy(), labels.copy()


@functools.lru_cache(maxsize=8)
def _glyphs_cached(spec: str, split: str, n: int, seed: int, fonts: str):
    import numpy as np
    from PIL import Image, ImageDraw

    size, channels = GLYPH_SPECS[spec]
    faces = [font for _, font in _font_objects(fonts)]
    # One independent stream per (spec, split, seed): train and test never share a draw.
    stream = zlib.crc32(f"{spec}/{split}".encode())
    rng = np.random.default_rng([seed, stream])
    scale = 4 if size <= 32 else 2  # supersampling factor of the rendering
    big = size * scale
    images = np.empty((n, size, size, channels), dtype=np.uint8)
    labels = rng.integers(0, len(GLYPH_CLASSES), size=n).astype(np.int64)
    rendered: dict = {}  # (font, char, stroke) -> (canvas, glyph width, glyph height)
    for i in range(n):
        char = GLYPH_CLASSES[labels[i]]
        face = int(rng.integers(len(faces)))
        stroke = int(rng.integers(0, 3)) * scale // 2
        key = (face, char, stroke)
        if key not in rendered:
            # The glyph centred on a canvas twice the output size (room for the distortion).
            canvas = Image.new("L", (2 * big, 2 * big), 0)
            draw = ImageDraw.Draw(canvas)
            left, top, right, bottom = draw.textbbox((0, 0), char, font=faces[face], stroke_width=stroke)
            draw.text((big - (left + right) / 2, big - (top + bottom) / 2), char, fill=255, font=faces[face],
                      stroke_width=stroke, stroke_fill=255)
            rendered[key] = (canvas, max(right - left, 1), max(bottom - top, 1))
        canvas, width, height = rendered[key]
        # Random affine map from output pixels to canvas pixels: the glyph's height becomes
        # 58-80% of the image (its width at most 85%), with rotation, shear and a small offset.
        zoom = max(height / (rng.uniform(0.58, 0.8) * big), width / (0.85 * big))
        angle = np.deg2rad(rng.uniform(-14, 14))
        shear = rng.uniform(-0.25, 0.25)
        squeeze = rng.uniform(0.85, 1.15)
        cos, sin = np.cos(angle), np.sin(angle)
        m = zoom * np.array([[cos * squeeze, -sin + shear], [sin * squeeze, cos]])
        shift = rng.uniform(-0.08, 0.08, size=2) * big
        centre_out = np.array([big / 2, big / 2]) + shift
        offset = np.array([big, big]) - m @ centre_out
        coeffs = (m[0, 0], m[0, 1], offset[0], m[1, 0], m[1, 1], offset[1])
        mask = canvas.transform((big, big), Image.Transform.AFFINE, coeffs, resample=Image.Resampling.BILINEAR)
        small = np.asarray(mask.reduce(scale), dtype=np.float32) / 255.0
        if channels == 1:
            images[i, ..., 0] = np.rint(small * 255.0).astype(np.uint8)
        else:
            fg, bg = _colour_pair(rng)
            images[i] = np.rint(bg + small[..., None] * (fg - bg)).astype(np.uint8)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def _colour_pair(rng) -> tuple[np.ndarray, np.ndarray]:
    """A random foreground and background colour whose luma differ by at least 100 of 255."""
    import numpy as np

    weights = np.array([0.299, 0.587, 0.114])
    while True:
        fg, bg = rng.uniform(0, 255, size=3), rng.uniform(0, 255, size=3)
        if abs(float(fg @ weights - bg @ weights)) >= 100:
            return fg.astype(np.float32), bg.astype(np.float32)


def glyph_fonts(fonts: str = "all") -> list[str]:
    """Names of the fonts the glyph datasets draw with: ``"pillow"`` (Pillow's own), then font files."""
    return [name for name, _ in _font_objects(fonts)]


def _font_sources(fonts: str) -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = [("pillow", None)]
    if fonts == "pillow":
        return found
    by_name: dict[str, str] = {}
    for folder in FONT_DIRS:
        root = Path(folder).expanduser()
        if root.is_dir():
            for dirpath, _, files in sorted(os.walk(root)):
                for file in sorted(files):
                    by_name.setdefault(file, os.path.join(dirpath, file))
    return found + [(name, by_name[name]) for name in SYSTEM_FONTS if name in by_name]


@functools.lru_cache(maxsize=2)
def _font_objects(fonts: str) -> tuple:
    from PIL import ImageFont, features

    size = 96  # rendering size in pixels; the affine map scales glyphs to the image
    faces: list[tuple[str, ImageFont.FreeTypeFont | ImageFont.ImageFont]] = []
    for name, path in _font_sources(fonts):
        try:
            if path is not None:
                faces.append((name, ImageFont.truetype(path, size=size)))
            elif features.check("freetype2"):
                # Pillow >= 10.1 ships a scalable font; older versions take no size (TypeError).
                faces.append((name, ImageFont.load_default(size=size)))
        except (OSError, TypeError):
            continue  # an unreadable font is skipped, not fatal
    if not faces:
        raise DatasetError("no scalable font for the glyph datasets: they need Pillow >= 10.1 built with FreeType "
                           "(pip install -U pillow) or TrueType fonts under /usr/share/fonts")
    return tuple(faces)
