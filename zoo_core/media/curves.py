"""Loss curves of one or more run folders, from their ``metrics.jsonl`` (``zoo plot``).

Drawn with matplotlib when it is installed (``engine="auto"``), else with Pillow alone: one
panel per metric (``loss`` first, ``lr`` last), one colour per run, step on the x axis. Each
panel shows the raw values as a thin line and, for runs longer than 50 steps, a trailing moving
average (a twentieth of the run) as a thick one; ``lr`` is drawn as it is.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

from zoo_core.errors import ZooError

#: one colour per run (RGB), cycled
COLOURS = ((31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14), (23, 190, 207))
_SKIP = ("step", "time")


def load_curves(runs: Sequence[str | Path]) -> list[tuple[str, dict[str, list[tuple[int, float]]]]]:
    """``[(label, {metric: [(step, value), ...]})]`` per run folder; a folder without a log is a one-line error."""
    from zoo_core.runtime.metrics_log import METRICS_FILE, read_metrics

    out = []
    for run in runs:
        path = Path(run)
        records = read_metrics(path)
        if not records:
            why = "no such folder" if not path.exists() else f"no {METRICS_FILE} with any step"
            raise ZooError(f"{run}: {why} (a run folder written by 'zoo train ... -o RUN' keeps one)")
        series: dict[str, list[tuple[int, float]]] = {}
        for record in records:
            for key, value in record.items():
                if key not in _SKIP and isinstance(value, (int, float)) and not isinstance(value, bool):
                    series.setdefault(key, []).append((int(record["step"]), float(value)))
        out.append((path.name or str(path), series))
    return out


def metric_order(curves: Sequence[tuple[str, dict]]) -> list[str]:
    """The metrics to draw: ``loss`` first, others sorted, ``lr`` last (at most 6 panels)."""
    keys = sorted({k for _, series in curves for k in series})
    keys.sort(key=lambda k: (k != "loss", k == "lr", k))
    return keys[:6]


def smooth(values: Sequence[float], window: int) -> list[float]:
    """Trailing moving average over ``window`` values."""
    out, total = [], 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def plot_runs(runs: Sequence[str | Path], output: str | Path, *, engine: str = "auto",
              width: int = 900, panel_height: int = 260) -> Path:
    """Draw the runs' curves into a PNG at ``output``; return its path."""
    curves = load_curves(runs)
    metrics = metric_order(curves)
    output = Path(output)
    if engine not in ("auto", "matplotlib", "pillow"):
        raise ZooError(f"unknown plot engine '{engine}' (auto, matplotlib, pillow)")
    if engine in ("auto", "matplotlib"):
        try:
            import matplotlib  # noqa: F401 - imported only to see whether it is installed
        except ImportError:
            if engine == "matplotlib":
                raise ZooError("matplotlib is not installed (pip install matplotlib), or use --engine pillow") from None
        else:
            return _plot_matplotlib(curves, metrics, output, width, panel_height)
    return _plot_pillow(curves, metrics, output, width, panel_height)


def _plot_matplotlib(curves, metrics, output: Path, width: int, panel_height: int) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(metrics), 1, figsize=(width / 100, panel_height * len(metrics) / 100),
                             squeeze=False, dpi=100)
    for ax, metric in zip(axes[:, 0], metrics, strict=False):
        for i, (label, series) in enumerate(curves):
            points = series.get(metric)
            if not points:
                continue
            colour = tuple(c / 255 for c in COLOURS[i % len(COLOURS)])
            steps, values = zip(*points, strict=False)
            window = max(1, len(values) // 20) if metric != "lr" else 1  # a schedule is drawn as it is
            ax.plot(steps, values, color=colour, linewidth=0.6, alpha=0.45 if window > 1 else 1.0)
            if window > 1 and len(values) > 50:
                ax.plot(steps, smooth(values, window), color=colour, linewidth=2, label=label)
            else:
                ax.lines[-1].set_label(label)
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right", fontsize=8)
    axes[-1, 0].set_xlabel("step")
    fig.tight_layout()
    fig.savefig(output, format="png")
    plt.close(fig)
    return output


def _nice(lo: float, hi: float) -> list[float]:
    """About five round tick values covering ``lo..hi``."""
    import math

    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / 5
    step = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * step:
            step *= m
            break
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def _label(value: float) -> str:
    return f"{int(value)}" if float(value).is_integer() and abs(value) < 1e6 else f"{value:.3g}"


def _plot_pillow(curves, metrics, output: Path, width: int, panel_height: int) -> Path:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default()
    image = Image.new("RGB", (width, panel_height * len(metrics)), "white")
    draw = ImageDraw.Draw(image)
    left, right, top, bottom = 70, 20, 24, 36
    max_step = max(s for _, series in curves for pts in series.values() for s, _ in pts)
    min_step = min(s for _, series in curves for pts in series.values() for s, _ in pts)
    for row, metric in enumerate(metrics):
        y0 = row * panel_height
        x_lo, x_hi = left, width - right
        y_lo, y_hi = y0 + top, y0 + panel_height - bottom
        values = [v for _, series in curves for _, v in series.get(metric, [])]
        lo, hi = min(values), max(values)
        if hi == lo:
            lo, hi = lo - (abs(lo) or 1) * 0.05, hi + (abs(hi) or 1) * 0.05
        s_hi = max(max_step, min_step + 1)

        px = functools.partial(_to_pixel, (x_lo, x_hi, y_lo, y_hi, min_step, s_hi, lo, hi))

        for tick in _nice(lo, hi):
            _, y = px(min_step, tick)
            draw.line([(x_lo, y), (x_hi, y)], fill=(228, 228, 228))
            draw.text((4, y - 6), _label(tick), fill="black", font=font)
        for tick in _nice(min_step, s_hi):
            x, _ = px(tick, lo)
            draw.line([(x, y_lo), (x, y_hi)], fill=(228, 228, 228))
            draw.text((x - 8, y_hi + 4), _label(tick), fill="black", font=font)
        draw.rectangle([x_lo, y_lo, x_hi, y_hi], outline="black")
        draw.text((x_lo, y0 + 6), metric + ("   (x: step)" if row == len(metrics) - 1 else ""), fill="black",
                  font=font)
        for i, (label, series) in enumerate(curves):
            points = series.get(metric)
            if not points:
                continue
            colour = COLOURS[i % len(COLOURS)]
            faint = tuple(int(c + (255 - c) * 0.6) for c in colour)
            steps, vals = zip(*points, strict=False)
            window = max(1, len(vals) // 20) if metric != "lr" else 1  # a schedule is drawn as it is
            thick = window > 1 and len(vals) > 50
            if len(points) == 1:
                x, y = px(steps[0], vals[0])
                draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=colour)
            else:
                draw.line([px(s, v) for s, v in points], fill=faint if thick else colour, width=1)
                if thick:
                    line = [px(s, v) for s, v in zip(steps, smooth(vals, window), strict=False)]
                    draw.line(line, fill=colour, width=2)
            lx = x_hi - 160
            ly = y_lo + 6 + 14 * i
            draw.line([(lx, ly + 6), (lx + 20, ly + 6)], fill=colour, width=3)
            draw.text((lx + 26, ly), label[:22], fill="black", font=font)
    image.save(output, format="PNG")
    return output


def _to_pixel(box: tuple[float, ...], step: float, value: float) -> tuple[float, float]:
    """A (step, value) point in a panel's pixels; ``box`` is (x_lo, x_hi, y_lo, y_hi, step_lo, step_hi, lo, hi)."""
    x_lo, x_hi, y_lo, y_hi, s_lo, s_hi, lo, hi = box
    return x_lo + (step - s_lo) / (s_hi - s_lo) * (x_hi - x_lo), y_hi - (value - lo) / (hi - lo) * (y_hi - y_lo)
