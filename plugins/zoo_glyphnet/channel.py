"""The differentiable noise channel between glyphnet's generator and decoder.

Three terms, each switchable: additive Gaussian noise, a random affine warp (rotation, translation,
isotropic scale, x-shear) and a random perspective warp (each corner pulled inward by up to
``distortion`` of half the side, applied with probability ``perspective_p``). As in the original
recipe the noise is added *before* the warps, so the padding the warps bring in stays clean.

Why plain torch rather than kornia's ``RandomAffine`` + ``RandomPerspective``:

* one dependency: the plugin needs only torch, which it needs anyway;
* speed: the affine and the perspective warp are composed into a single 3x3 homography per image,
  so the image is resampled by one ``grid_sample`` call instead of two full warps (which also
  means one bilinear blur instead of two), and there is no per-call parameter-object overhead.

Two ways to resample (``resample``):

* ``"post"``: the blog post's channel, exactly: noise added, then kornia's
  ``RandomAffine(degrees, translate, scale, shear, p=affine_p)`` as its own resampling, then
  ``RandomPerspective(distortion, p=perspective_p)`` as another. Parameters have kornia's semantics
  (pixel coordinates with the centre at ``((W-1)/2, (H-1)/2)``, translations in ``+-translate * W``
  pixels, x-shear only, perspective corners at the corner pixels' centres moved inward by
  ``U(0, distortion * W/2)`` pixels); an image not drawn for a warp is left untouched, not
  resampled. tests/plugins/glyphnet/test_glyphnet.py checks it against kornia itself, parameter for parameter and
  statistically.
* ``"fast"``: the affine and the perspective warp composed into one homography, one resampling.

All randomness comes from an optional :class:`torch.Generator`, so a training step is a pure
function of its seed (exact resume) and evaluation is repeatable.
"""

from __future__ import annotations

import math
from typing import Any

# torch is imported here, not in the package __init__, so that `zoo list` never loads it.
import torch
import torch.nn.functional as F
from torch import nn

# Corners of the image in normalised coordinates (x, y), clockwise from top-left.
_CORNERS = ((-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0))


class NoiseChannel(nn.Module):
    """Randomly disturb a batch of images ``(B, C, H, W)``; differentiable with respect to them.

    :param affine: apply the random affine warp.
    :param affine_p: probability that an image gets the affine warp (1: always).
    :param rotation: rotation drawn uniformly in ``+-rotation`` degrees.
    :param translate: shift in x and y drawn uniformly in ``+-translate`` of the side.
    :param scale: ``(min, max)`` of the uniformly drawn zoom factor.
    :param shear: x-shear angle drawn uniformly in ``+-shear`` degrees.
    :param perspective: apply the random perspective warp.
    :param distortion: each corner moves inward by ``U(0, distortion)`` of half the side (x and y).
    :param perspective_p: probability that an image gets the perspective warp.
    :param noise: add Gaussian noise.
    :param noise_sigma: its standard deviation.
    :param blur: blur each image (before the noise) with a Gaussian of standard deviation drawn
        uniformly in ``[blur_sigma / 2, blur_sigma]`` of the side: fine stripes never survive, so
        the generator draws larger shapes.

    With every term off (or at zero strength) the channel returns its input unchanged.
    """

    def __init__(self, *, affine: bool = True, affine_p: float = 1.0, rotation: float = 30.0,
                 translate: float = 0.1, scale: tuple[float, float] = (0.9, 1.1), shear: float = 10.0,
                 perspective: bool = True, distortion: float = 0.6, perspective_p: float = 0.5, noise: bool = True,
                 noise_sigma: float = 0.25, blur: bool = False, blur_sigma: float = 0.025,
                 resample: str = "fast") -> None:
        super().__init__()
        if resample not in RESAMPLE:
            raise ValueError(f"resample must be one of {RESAMPLE}, got {resample!r}")
        self.resample = resample
        self.affine, self.affine_p = affine, float(affine_p)
        self.rotation, self.translate = float(rotation), float(translate)
        self.scale, self.shear = (float(scale[0]), float(scale[1])), float(shear)
        self.perspective, self.distortion, self.perspective_p = perspective, float(distortion), float(perspective_p)
        self.noise, self.noise_sigma = noise, float(noise_sigma)
        self.blur, self.blur_sigma = blur, float(blur_sigma)

    @classmethod
    def from_config(cls, config: dict, enabled: bool = True) -> NoiseChannel:
        """The channel described by a glyphnet config; ``enabled=False`` gives the identity channel."""
        return cls(affine=enabled and config["affine"], affine_p=config["affine_p"], rotation=config["rotation"],
                   translate=config["translate"], scale=(config["scale_min"], config["scale_max"]),
                   shear=config["shear"], perspective=enabled and config["perspective"],
                   distortion=config["distortion"], perspective_p=config["perspective_p"],
                   noise=enabled and config["noise"], noise_sigma=config["noise_sigma"],
                   blur=enabled and config["blur"], blur_sigma=config["blur_sigma"],
                   resample=config.get("channel", "fast"))

    @classmethod
    def post(cls) -> NoiseChannel:
        """The blog post's channel: ``randn/4`` noise, then kornia's ``RandomAffine(degrees=30,
        translate=(0.1, 0.1), scale=(0.9, 1.1), shear=(-10, 10))`` at its default p=0.5, then
        ``RandomPerspective(0.6, p=0.5)``, each warp its own resampling. What ``evaluate`` uses."""
        return cls(**POST_CHANNEL)

    def forward(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Apply the enabled terms: blur, noise, then one resampling by the composed warp."""
        out = images
        if self.blur and self.blur_sigma > 0:
            draw = torch.rand(out.shape[0], generator=generator, dtype=torch.float64)
            sigmas = (self.blur_sigma * out.shape[-1] * (0.5 + 0.5 * draw)).to(out.device)
            out = gaussian_blur(out, sigmas)
        if self.noise and self.noise_sigma > 0:
            # drawn on the CPU (where the step's generator lives) and moved: the same noise on every device
            out = out + self.noise_sigma * torch.randn(out.shape, generator=generator, dtype=out.dtype).to(out.device)
        if self.resample == "post":
            return self._post_warps(out, generator)
        inverse = self.warp_inverse(out.shape[0], generator=generator, dtype=out.dtype, device=out.device)
        if inverse is not None:
            out = warp(out, inverse)
        return out

    def post_params(self, batch: int, height: int, width: int,
                    generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Random parameters of the two warps of the ``"post"`` channel, in kornia's terms (float64, CPU).

        ``angle`` (degrees), ``translations`` (pixels, x then y), ``scale`` (isotropic),
        ``shear_x`` (degrees), ``affine_apply`` (bool); ``start_points``/``end_points``
        (``(B, 4, 2)`` pixels), ``perspective_apply`` (bool). Warps that are off apply to no image.
        """
        f64 = dict(generator=generator, dtype=torch.float64)
        on = self.affine and self.affine_p > 0
        params = {
            "angle": _uniform(batch, -self.rotation, self.rotation, generator),
            "translations": torch.stack([_uniform(batch, -self.translate, self.translate, generator) * width,
                                         _uniform(batch, -self.translate, self.translate, generator) * height], 1),
            "scale": _uniform(batch, self.scale[0], self.scale[1], generator),
            "shear_x": _uniform(batch, -self.shear, self.shear, generator),
            "affine_apply": (torch.rand(batch, **f64) < self.affine_p) & on,
        }
        start = torch.tensor([[0.0, 0.0], [width - 1.0, 0.0], [width - 1.0, height - 1.0], [0.0, height - 1.0]],
                             dtype=torch.float64).expand(batch, 4, 2)
        factor = torch.tensor([self.distortion * width / 2, self.distortion * height / 2], dtype=torch.float64)
        inward = torch.tensor([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]], dtype=torch.float64)
        params["start_points"] = start
        params["end_points"] = start + factor * torch.rand(batch, 4, 2, **f64) * inward
        on = self.perspective and self.distortion > 0 and self.perspective_p > 0
        params["perspective_apply"] = (torch.rand(batch, **f64) < self.perspective_p) & on
        return params

    def _post_warps(self, images: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """The post's two warps, each its own bilinear resampling of the images drawn for it."""
        b, _, h, w = images.shape
        params = self.post_params(b, h, w, generator)
        forward = kornia_affine_matrix(params["angle"], params["translations"], params["scale"], params["shear_x"],
                                       h, w)
        out = apply_where(images, params["affine_apply"], pixel_to_normalised_inverse(forward, h, w))
        forward = homography(params["start_points"], params["end_points"])
        return apply_where(out, params["perspective_apply"], pixel_to_normalised_inverse(forward, h, w))

    def warp_inverse(self, batch: int, generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32,
                     device: torch.device | str = "cpu") -> torch.Tensor | None:
        """``(B, 3, 3)`` maps from output to input coordinates of the enabled warps, or None.

        The image is first warped by the affine map ``A`` and then by the perspective map ``P``,
        so the composed inverse is ``A^-1 @ P^-1``.
        """
        inverse = None
        if self.affine and self.affine_p > 0:
            inverse = affine_inverse(batch, self.rotation, self.translate, self.scale, self.shear,
                                     generator=generator)
            if self.affine_p < 1:  # (no extra draw when always on, so p=1 runs stay comparable)
                keep = torch.rand(batch, generator=generator, dtype=torch.float64) < self.affine_p
                inverse = torch.where(keep[:, None, None], inverse, torch.eye(3, dtype=torch.float64))
        if self.perspective and self.distortion > 0 and self.perspective_p > 0:
            p_inv = perspective_inverse(batch, self.distortion, self.perspective_p, generator=generator)
            inverse = p_inv if inverse is None else inverse @ p_inv
        return None if inverse is None else inverse.to(device=device, dtype=dtype)


#: the blog post's channel (see :meth:`NoiseChannel.post`)
POST_CHANNEL: dict[str, Any]  # keyword arguments of NoiseChannel
POST_CHANNEL = dict(affine=True, affine_p=0.5, rotation=30.0, translate=0.1, scale=(0.9, 1.1), shear=10.0,
                    perspective=True, distortion=0.6, perspective_p=0.5, noise=True, noise_sigma=0.25, blur=False,
                    resample="post")
#: the ``resample`` modes (the config key ``channel``)
RESAMPLE = ("post", "fast")


def kornia_affine_matrix(angle: torch.Tensor, translations: torch.Tensor, scale: torch.Tensor,
                         shear_x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Forward affine maps ``(B, 3, 3)`` in pixel coordinates, as kornia's ``RandomAffine`` builds them.

    ``T(translations) @ C @ R(-angle) @ S(scale) @ C^-1 @ Shear_x``: about the centre
    ``C = ((W-1)/2, (H-1)/2)``, a positive angle turns the displayed image clockwise, the x-shear
    maps ``x -> x - tan(shear_x) * (y - cy)`` (kornia's ``get_shear_matrix2d``).
    """
    batch = angle.shape[0]
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    a = torch.deg2rad(-angle.to(torch.float64))
    cos, sin = torch.cos(a) * scale, torch.sin(a) * scale
    rot = torch.zeros(batch, 3, 3, dtype=torch.float64)
    rot[:, 0, 0], rot[:, 0, 1], rot[:, 1, 0], rot[:, 1, 1] = cos, sin, -sin, cos
    rot[:, 0, 2] = (1 - cos) * cx - sin * cy + translations[:, 0]
    rot[:, 1, 2] = sin * cx + (1 - cos) * cy + translations[:, 1]
    rot[:, 2, 2] = 1.0
    tan = torch.tan(torch.deg2rad(shear_x.to(torch.float64)))
    shear = torch.eye(3, dtype=torch.float64).repeat(batch, 1, 1)
    shear[:, 0, 1], shear[:, 0, 2] = -tan, tan * cy
    return rot @ shear


def pixel_to_normalised_inverse(forward: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The output-to-input map in :func:`warp`'s normalised coordinates of a forward pixel map.

    Pixel ``x`` is normalised to ``(2x + 1) / W - 1`` (``align_corners=False``, as kornia's warps).
    """
    norm = torch.tensor([[2.0 / width, 0.0, 1.0 / width - 1.0], [0.0, 2.0 / height, 1.0 / height - 1.0],
                         [0.0, 0.0, 1.0]], dtype=torch.float64)
    return norm @ torch.linalg.inv(forward.to(torch.float64)) @ torch.linalg.inv(norm)


def apply_where(images: torch.Tensor, apply: torch.Tensor, inverse: torch.Tensor) -> torch.Tensor:
    """Resample the images with ``apply[b]`` by ``inverse[b]``; the others pass untouched."""
    idx = torch.nonzero(apply, as_tuple=True)[0]
    if idx.numel() == 0:
        return images
    inv = inverse[idx].to(device=images.device, dtype=images.dtype)
    idx = idx.to(images.device)
    return images.index_copy(0, idx, warp(images.index_select(0, idx), inv))


def _uniform(batch: int, low: float, high: float, generator: torch.Generator | None) -> torch.Tensor:
    return low + (high - low) * torch.rand(batch, generator=generator, dtype=torch.float64)


def affine_inverse(batch: int, rotation: float, translate: float, scale: tuple[float, float], shear: float,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Random inverse affine maps ``(B, 3, 3)`` (float64) in normalised coordinates.

    Forward map: ``x' = R(theta) * s * Shear_x(phi) * x + t``, about the image centre.
    """
    theta = torch.deg2rad(_uniform(batch, -rotation, rotation, generator))
    shift = 2.0 * translate * (2.0 * torch.rand(batch, 2, generator=generator, dtype=torch.float64) - 1.0)
    zoom = _uniform(batch, scale[0], scale[1], generator)
    tan_phi = torch.tan(torch.deg2rad(_uniform(batch, -shear, shear, generator)))
    cos, sin = torch.cos(theta) / zoom, torch.sin(theta) / zoom
    # (R s)^-1 = R(-theta) / s, Shear^-1 = [[1, -tan], [0, 1]]; linear part L = Shear^-1 (R s)^-1
    a = cos + tan_phi * sin
    b = sin - tan_phi * cos
    c = -sin
    d = cos
    out = torch.zeros(batch, 3, 3, dtype=torch.float64)
    out[:, 0, 0], out[:, 0, 1], out[:, 1, 0], out[:, 1, 1] = a, b, c, d
    out[:, 0, 2] = -(a * shift[:, 0] + b * shift[:, 1])
    out[:, 1, 2] = -(c * shift[:, 0] + d * shift[:, 1])
    out[:, 2, 2] = 1.0
    return out


def perspective_inverse(batch: int, distortion: float, p: float,
                        generator: torch.Generator | None = None) -> torch.Tensor:
    """Random inverse perspective maps ``(B, 3, 3)`` (float64); identity for images not drawn (1 - p).

    Each corner ``c`` of the image moves to ``c - sign(c) * distortion * u`` with ``u ~ U(0, 1)``
    per coordinate; the returned homography maps those moved corners back onto the corners.
    """
    corners = torch.tensor(_CORNERS, dtype=torch.float64).expand(batch, 4, 2)
    pull = distortion * torch.rand(batch, 4, 2, generator=generator, dtype=torch.float64)
    apply = torch.rand(batch, generator=generator, dtype=torch.float64) < p
    moved = corners - corners.sign() * pull
    inverse = homography(moved, corners)
    eye = torch.eye(3, dtype=torch.float64).expand(batch, 3, 3)
    return torch.where(apply[:, None, None], inverse, eye)


def gaussian_blur(images: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
    """Blur each image ``(B, C, H, W)`` with its own Gaussian, std ``sigmas[b]`` pixels (separable).

    Borders are replicated; a std of 0 leaves the image unchanged.
    """
    b, c, h, w = images.shape
    radius = max(1, int(math.ceil(3.0 * float(sigmas.max()))))
    taps = torch.arange(-radius, radius + 1, dtype=torch.float64)
    safe = sigmas.clamp_min(1e-6)[:, None]
    kernel = torch.exp(-0.5 * (taps[None, :] / safe) ** 2)
    kernel = torch.where(sigmas[:, None] > 1e-6, kernel, (taps[None, :] == 0).to(kernel.dtype))
    kernel = (kernel / kernel.sum(dim=1, keepdim=True)).to(images.dtype)
    kernel = kernel.repeat_interleave(c, dim=0)  # (B*C, K): one kernel per image channel
    flat = images.reshape(1, b * c, h, w)
    flat = F.pad(flat, (radius, radius, radius, radius), mode="replicate")
    flat = F.conv2d(flat, kernel[:, None, None, :], groups=b * c)
    flat = F.conv2d(flat, kernel[:, None, :, None], groups=b * c)
    return flat.reshape(b, c, h, w)


def homography(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """The ``(B, 3, 3)`` homographies mapping four points ``src (B, 4, 2)`` onto ``dst (B, 4, 2)``."""
    x, y = src[..., 0], src[..., 1]
    u, v = dst[..., 0], dst[..., 1]
    one, zero = torch.ones_like(x), torch.zeros_like(x)
    rows_u = torch.stack([x, y, one, zero, zero, zero, -u * x, -u * y], dim=-1)
    rows_v = torch.stack([zero, zero, zero, x, y, one, -v * x, -v * y], dim=-1)
    system = torch.cat([rows_u, rows_v], dim=1)  # (B, 8, 8)
    rhs = torch.cat([u, v], dim=1)  # (B, 8)
    h = torch.linalg.solve(system, rhs)
    return torch.cat([h, torch.ones_like(h[:, :1])], dim=1).reshape(-1, 3, 3)


def warp(images: torch.Tensor, inverse: torch.Tensor) -> torch.Tensor:
    """Resample ``images (B, C, H, W)`` once: output pixel ``q`` reads input at ``inverse @ q``.

    Bilinear, zero padding, normalised coordinates with ``align_corners=False``.
    """
    b, _, h, w = images.shape
    m = inverse.to(images.dtype)
    ys = (torch.arange(h, dtype=m.dtype, device=m.device) * 2 + 1) / h - 1
    xs = (torch.arange(w, dtype=m.dtype, device=m.device) * 2 + 1) / w - 1
    # q = (x, y, 1) -> (m00 x + m01 y + m02, m10 x + m11 y + m12, m20 x + m21 y + m22), by broadcasting
    gx, gy = xs.view(1, 1, w), ys.view(1, h, 1)
    num_x = m[:, 0, 0, None, None] * gx + (m[:, 0, 1, None, None] * gy + m[:, 0, 2, None, None])
    num_y = m[:, 1, 0, None, None] * gx + (m[:, 1, 1, None, None] * gy + m[:, 1, 2, None, None])
    z = m[:, 2, 0, None, None] * gx + (m[:, 2, 1, None, None] * gy + m[:, 2, 2, None, None])
    z = torch.where(z.abs() < 1e-6, torch.full_like(z, 1e-6), z)
    grid = torch.stack([num_x / z, num_y / z], dim=-1)  # (B, H, W, 2)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def describe(channel: NoiseChannel) -> str:
    """One line naming the enabled terms, e.g. ``noise 0.25 + affine + perspective 0.6@0.5``."""
    parts = []
    if channel.blur and channel.blur_sigma > 0:
        parts.append(f"blur {channel.blur_sigma:g}")
    if channel.noise and channel.noise_sigma > 0:
        parts.append(f"noise {channel.noise_sigma:g}")
    if channel.affine and channel.affine_p > 0:
        at = f"@{channel.affine_p:g}" if channel.affine_p < 1 else ""
        parts.append(f"affine{at} rot {channel.rotation:g} shift {channel.translate:g} "
                     f"scale {channel.scale[0]:g}-{channel.scale[1]:g} shear {channel.shear:g}")
    if channel.perspective and channel.distortion > 0 and channel.perspective_p > 0:
        parts.append(f"perspective {channel.distortion:g}@{channel.perspective_p:g}")
    described = " + ".join(parts) or "identity"
    return described + (" (post: one resampling per warp)" if channel.resample == "post" and parts else "")


__all__ = ["NoiseChannel", "POST_CHANNEL", "RESAMPLE", "kornia_affine_matrix", "pixel_to_normalised_inverse",
           "apply_where", "affine_inverse", "perspective_inverse", "homography", "warp", "gaussian_blur", "describe"]
