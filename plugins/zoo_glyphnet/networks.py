"""The generator (message -> image) and the decoder (image -> message) of glyphnet."""

from __future__ import annotations

# torch is imported here, not in the package __init__, so that `zoo list` never loads it:
# these modules are only built when a glyphnet model is.
import torch
from torch import nn

from zoo_glyphnet import levels

LEAK = 0.2


class Binomial3x3(nn.Module):
    """Fixed ``[1, 2, 1] x [1, 2, 1] / 16`` smoothing per channel (replicated borders); no weights."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        taps = torch.tensor([1.0, 2.0, 1.0])
        kernel = (taps[:, None] * taps[None, :] / 16.0).expand(channels, 1, 3, 3).contiguous()
        self.register_buffer("kernel", kernel, persistent=False)  # not a weight: kept out of state_dict
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.nn.functional.pad(x, (1, 1, 1, 1), mode="replicate")
        return torch.nn.functional.conv2d(x, self.kernel.to(x.dtype), groups=self.channels)


class Generator(nn.Sequential):
    """Message ``(B, msg_size)`` -> image ``(B, channels, S, S)`` in [0, 1].

    A transposed convolution lifts the message to a 4x4 map of ``widths[-1]`` features; each
    following stride-2 transposed convolution doubles the side (BatchNorm + LeakyReLU after every
    hidden layer) down the widths to ``widths[0]``; the last one draws the image, squashed by a
    sigmoid.

    :param widths: features per resolution, finest first (exactly ``levels(image_size)`` of them).
    :param antialias: low-pass the output logits with a fixed 3x3 binomial filter before the
        sigmoid. A stride-2 transposed convolution can draw a pixel-level checkerboard for free;
        behind a blurring channel nothing stops it, and it shows as grey dither. The filter zeroes
        that frequency while the sigmoid keeps the edges crisp. It has no weights.
    :param upsample: draw the logits at ``image_size / 2**upsample`` (the finest ``upsample``
        widths go unused) and enlarge them by fixed bilinear interpolation before the sigmoid. The
        logit field is then smooth at the pixel scale, so the sigmoid turns it into crisp-edged
        strokes and blobs instead of fine stripes. No weights.
    """

    def __init__(self, msg_size: int, image_size: int, channels: int, widths: list[int],
                 antialias: bool = False, upsample: int = 0) -> None:
        w = list(widths)
        if len(w) != levels(image_size):
            raise ValueError(f"image_size {image_size} needs {levels(image_size)} widths, got {w}")
        if not 0 <= upsample < len(w):
            raise ValueError(f"upsample {upsample} must be in 0..{len(w) - 1} for image_size {image_size}")
        w = w[upsample:]
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(msg_size, w[-1], 4, 1, 0, bias=False),
            nn.BatchNorm2d(w[-1]),
            nn.LeakyReLU(LEAK, inplace=True),
        ]
        for i in range(len(w) - 1, 0, -1):
            layers += [nn.ConvTranspose2d(w[i], w[i - 1], 4, 2, 1, bias=False),
                       nn.BatchNorm2d(w[i - 1]),
                       nn.LeakyReLU(LEAK, inplace=True)]
        layers += [nn.ConvTranspose2d(w[0], channels, 4, 2, 1)]
        if antialias:
            layers += [Binomial3x3(channels)]
        if upsample:
            layers += [nn.Upsample(scale_factor=2 ** upsample, mode="bilinear", align_corners=False)]
        layers += [nn.Sigmoid()]
        super().__init__(*layers)
        self.msg_size = msg_size

    def forward(self, messages: torch.Tensor) -> torch.Tensor:
        return super().forward(messages.reshape(messages.shape[0], self.msg_size, 1, 1))


class Decoder(nn.Sequential):
    """Image ``(B, channels, S, S)`` -> message ``(B, msg_size)``: the generator's mirror image.

    Stride-2 convolutions (BatchNorm + LeakyReLU) halve the side up the widths to a 4x4 map, which
    a final 4x4 convolution reads out as the message (no activation: messages are unbounded).
    ``head="pool"`` averages the 4x4 map over its positions before a 1x1 readout (global average
    pooling, as noahtren/GlyphNet's decoder): the message can then not be read from fixed slots.
    ``depth`` extra 3x3 stride-1 convolutions (BatchNorm + LeakyReLU) at each resolution above
    4x4 widen the receptive field; the decoder has to undo rotations and perspective, and that
    depth buys much more message accuracy per training step than width does.
    """

    def __init__(self, msg_size: int, image_size: int, channels: int, widths: list[int], depth: int = 0,
                 head: str = "conv") -> None:
        w = list(widths)
        if len(w) != levels(image_size):
            raise ValueError(f"image_size {image_size} needs {levels(image_size)} widths, got {w}")
        layers: list[nn.Module] = [nn.Conv2d(channels, w[0], 4, 2, 1, bias=False),
                                   nn.BatchNorm2d(w[0]),
                                   nn.LeakyReLU(LEAK, inplace=True)]
        for i in range(1, len(w)):
            for _ in range(depth):
                layers += [nn.Conv2d(w[i - 1], w[i - 1], 3, 1, 1, bias=False),
                           nn.BatchNorm2d(w[i - 1]),
                           nn.LeakyReLU(LEAK, inplace=True)]
            layers += [nn.Conv2d(w[i - 1], w[i], 4, 2, 1, bias=False),
                       nn.BatchNorm2d(w[i]),
                       nn.LeakyReLU(LEAK, inplace=True)]
        if head == "pool":  # where a feature is on the 4x4 map no longer matters (as GlyphNet's decoder)
            layers += [nn.AdaptiveAvgPool2d(1), nn.Conv2d(w[-1], msg_size, 1)]
        else:
            layers += [nn.Conv2d(w[-1], msg_size, 4, 1, 0)]
        super().__init__(*layers)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return super().forward(images).flatten(1)


class StrokeGenerator(nn.Module):
    """Message ``(B, msg_size)`` -> image ``(B, channels, S, S)`` in [0, 1], drawn as strokes.

    An MLP turns the message into ``strokes`` connected paths, each a chain of ``segments``
    quadratic Bezier curves (``2 * segments + 1`` control points, shared end points, so a path is
    one piece), plus a half-width, an intensity (and, for colour, a colour) per curve. Every
    control point lies inside the central box ``|x|, |y| <= box`` (a tanh), so the strokes stay
    off the frame. A differentiable rasteriser draws them: each curve is sampled at ``SUBDIVIDE``
    points, and a pixel's ink from a curve is ``intensity * sigmoid((half_width - d) / tau)``
    where ``d`` is its distance to the nearest of the curve's straight pieces; a pixel's value
    is the largest ink over all curves (colour: that curve's colour times it).

    The strokes are rasterised at ``raster`` pixels a side (cost: batch x pieces x raster^2) and
    enlarged to ``image_size`` in logit space (bilinear, then the sigmoid), so edges stay crisp.
    Coordinates are normalised: the image spans [-1, 1] in x and y; ``tau`` is a quarter of a raster pixel.
    :meth:`paths` returns the vector form (control points, half-widths, intensities, colours)
    that :meth:`render` rasterises, so an SVG of the same strokes can be written.
    """

    SUBDIVIDE = 4

    def __init__(self, msg_size: int, image_size: int, channels: int, *, strokes: int = 1, segments: int = 16,
                 hidden: int = 512, box: float = 0.65, width_min: float = 0.04, width_max: float = 0.10,
                 intensity_min: float = 0.6, raster: int = 32) -> None:
        super().__init__()
        if raster > image_size or image_size % raster:
            raise ValueError(f"raster {raster} must divide image_size {image_size}")
        self.raster = raster
        self.msg_size, self.image_size, self.channels = msg_size, image_size, channels
        self.strokes, self.segments, self.box = strokes, segments, box
        self.width_min, self.width_max, self.intensity_min = width_min, width_max, intensity_min
        self.points = 2 * segments + 1
        curves = strokes * segments
        out = strokes * self.points * 2 + curves * (2 + (3 if channels == 3 else 0))
        self.mlp = nn.Sequential(nn.Linear(msg_size, hidden), nn.LeakyReLU(LEAK),
                                 nn.Linear(hidden, hidden), nn.LeakyReLU(LEAK),
                                 nn.Linear(hidden, out))
        t = torch.linspace(0.0, 1.0, self.SUBDIVIDE + 1)
        # Bernstein weights of the sampled points of a quadratic curve: (SUBDIVIDE + 1, 3)
        self.register_buffer("bernstein", torch.stack([(1 - t) ** 2, 2 * t * (1 - t), t ** 2], 1), persistent=False)
        centres = (torch.arange(raster, dtype=torch.float32) + 0.5) * (2.0 / raster) - 1.0
        self.register_buffer("centres", centres, persistent=False)

    def paths(self, messages: torch.Tensor) -> dict:
        """The vector form: ``control (B, strokes, 2 * segments + 1, 2)`` (x, y in [-1, 1]),
        ``width`` and ``intensity`` ``(B, strokes, segments)``, ``colour (B, strokes, segments, C)``
        (largest channel 1; grey: ones)."""
        b, s, k = messages.shape[0], self.strokes, self.segments
        raw = self.mlp(messages.reshape(b, self.msg_size))
        n = s * self.points * 2
        control = torch.tanh(raw[:, :n]).reshape(b, s, self.points, 2) * self.box
        rest = raw[:, n:].reshape(b, s, k, -1)
        width = self.width_min + (self.width_max - self.width_min) * torch.sigmoid(rest[..., 0])
        intensity = self.intensity_min + (1.0 - self.intensity_min) * torch.sigmoid(rest[..., 1])
        if self.channels == 3:
            c = torch.sigmoid(rest[..., 2:5])
            colour = c / c.amax(dim=-1, keepdim=True)
        else:
            colour = torch.ones_like(width).unsqueeze(-1)
        return {"control": control, "width": width, "intensity": intensity, "colour": colour}

    def render(self, paths: dict) -> torch.Tensor:
        """Rasterise :meth:`paths`' output to ``(B, channels, S, S)``."""
        control, width, intensity, colour = paths["control"], paths["width"], paths["intensity"], paths["colour"]
        b, s, _, _ = control.shape
        k = self.segments
        # the curves' control triples (B, s, k, 3, 2) -> sampled points (B, s, k, SUBDIVIDE + 1, 2)
        idx = torch.arange(k, device=control.device)[:, None] * 2 + torch.arange(3, device=control.device)
        triples = control[:, :, idx]
        pts = torch.einsum("tj,bskjd->bsktd", self.bernstein.to(control.dtype), triples)
        a = pts[..., :-1, :].reshape(b, s * k, self.SUBDIVIDE, 2)
        d = (pts[..., 1:, :] - pts[..., :-1, :]).reshape(b, s * k, self.SUBDIVIDE, 2)
        cx = self.centres.to(control.dtype)
        # pixel (y, x) minus piece start, per axis: (B, curves, pieces, S, 1) and (B, curves, pieces, 1, S)
        px = cx.view(1, 1, 1, 1, -1) - a[..., 0, None, None]
        py = cx.view(1, 1, 1, -1, 1) - a[..., 1, None, None]
        dx, dy = d[..., 0, None, None], d[..., 1, None, None]
        length2 = (dx * dx + dy * dy).clamp_min(1e-8)
        t = ((px * dx + py * dy) / length2).clamp(0.0, 1.0)
        dist2 = (px - t * dx) ** 2 + (py - t * dy) ** 2  # (B, curves, pieces, S, S)
        dist = (dist2.amin(dim=2) + 1e-8).sqrt()  # nearest piece of each curve: (B, curves, S, S)
        tau = 0.5 / self.raster  # a quarter of a raster pixel (which spans 2 / raster)
        w = width.reshape(b, s * k, 1, 1)
        ink = intensity.reshape(b, s * k, 1, 1) * torch.sigmoid((w - dist) / tau)
        if self.channels == 1:
            image = ink.amax(dim=1, keepdim=True)
        else:
            image = (ink.unsqueeze(2) * colour.reshape(b, s * k, 3, 1, 1)).amax(dim=1)
        if self.raster == self.image_size:
            return image
        # enlarged in logit space: bilinear between the raster's pixels, crisp edges after the sigmoid
        logit = torch.logit(image.clamp(1e-4, 1.0 - 1e-4))
        logit = torch.nn.functional.interpolate(logit, size=(self.image_size, self.image_size), mode="bilinear",
                                                align_corners=False)
        return torch.sigmoid(logit)

    def forward(self, messages: torch.Tensor) -> torch.Tensor:
        return self.render(self.paths(messages))


def build_networks(config: dict) -> tuple[nn.Module, Decoder]:
    """The generator and decoder for a resolved glyphnet config (uses the current torch RNG)."""
    widths = list(config["widths"])[:levels(config["image_size"])]
    args = (config["msg_size"], config["image_size"], config["channels"], widths)
    if config.get("generator", "conv") == "strokes":
        generator = StrokeGenerator(*args[:3], strokes=config["strokes"], segments=config["segments"],
                                    hidden=config["stroke_hidden"], box=config["stroke_box"],
                                    width_min=config["stroke_width_min"], width_max=config["stroke_width_max"],
                                    intensity_min=config["intensity_min"],
                                    raster=min(config["stroke_raster"], config["image_size"]))
    else:
        generator = Generator(*args, antialias=config["antialias"], upsample=config["upsample"])
    return generator, Decoder(*args, depth=config["decoder_depth"], head=config.get("decoder_head", "conv"))
