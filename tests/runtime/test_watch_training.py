"""Training you can watch and plot: progress with ETA from the API and the CLI, the per-step
metrics log (exactly once per step across kill -9 and --resume), run.json's timing, ``zoo plot``,
and the resume command printed on Ctrl-C."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers.clitools import ZOO, assert_one_line_error, run_zoo
from helpers.slowness import scaled

ONE_THREAD = {"OMP_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}
SETS = ["image_size=32", "widths=4,8,8", "msg_size=8", "batch_size=16", "seed=3"]
STEPS, EVERY = 40, 5


def _train_args(run: Path, steps: int = STEPS) -> list[str]:
    return ["train", "glyphnet", "-o", str(run), "--steps", str(steps), "--checkpoint-every", str(EVERY),
            "--device", "cpu", *[a for s in SETS for a in ("--set", s)]]


def _log(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


# -- the progress line -------------------------------------------------------------------------


def test_progress_line_has_elapsed_time_and_eta():
    from zoo_core.runtime.progress import Progress, clock

    stream = io.StringIO()
    bar = Progress(100, start=0, stream=stream)
    bar.t0 -= 10.0  # ten seconds ago
    line = bar.line(20, {"loss": 0.5})
    assert "step 20/100" in line and "loss 0.5" in line and "2.0 steps/s" in line
    assert "0:10 elapsed" in line and "ETA 0:40" in line  # 80 steps left at 2 steps/s
    for step in range(1, 101):
        bar(step, {"loss": 1.0 / step})
    lines = stream.getvalue().splitlines()  # not a terminal: a line every 10% of the run
    assert len(lines) == 10 and lines[-1].startswith("step 100/100") and "ETA 0:00" in lines[-1]
    assert clock(75) == "1:15" and clock(3725) == "1:02:05"


def test_resumed_progress_counts_from_where_it_resumed():
    import time as _time

    from zoo_core.runtime.progress import Progress

    bar = Progress(100, stream=io.StringIO())
    began = _time.perf_counter()
    assert "step 51/100" in bar.line(51, {}, now=began) and bar.start == 50  # a run resumed at step 50
    line = bar.line(61, {}, now=began + 5.0)  # 10 steps in 5 s since the first one: set-up time not counted
    assert "2.0 steps/s" in line and "ETA 0:20" in line


def test_notebook_gets_tqdm_widget_or_plain_lines(monkeypatch):
    import types

    from zoo_core.runtime import progress

    assert not progress.in_notebook()  # pytest is no Jupyter kernel
    monkeypatch.setattr(progress, "in_notebook", lambda: True)
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # no widgets: plain lines
    assert type(progress.make_progress(10)) is progress.Progress
    seen = []

    class FakeTqdm:  # records what the widget is told
        def __init__(self, total, initial, unit):
            self.n, self.last_print_n = initial, initial
            seen.append(("new", total, initial))

        def set_postfix(self, values, refresh):
            seen.append(("postfix", values))

        def update(self, n):
            self.n += n
            seen.append(("update", n))

        def close(self):
            seen.append(("close",))

    monkeypatch.setitem(sys.modules, "ipywidgets", types.ModuleType("ipywidgets"))
    monkeypatch.setitem(sys.modules, "tqdm.notebook", types.SimpleNamespace(tqdm=FakeTqdm))
    bar = progress.make_progress(10)
    assert type(bar) is progress.NotebookProgress
    bar(5, {"loss": 0.5})  # a run resumed at step 4
    bar(6, {"loss": 0.25})
    bar.close()
    assert seen == [("new", 10, 0), ("postfix", {"loss": "0.5"}), ("update", 1), ("postfix", {"loss": "0.25"}),
                    ("update", 1), ("close",)]


def test_api_train_reports_progress_by_default_and_not_with_progress_false():
    code = ("import zoo_core\n"
            "m = zoo_core.build('glyphnet', image_size=32, widths=[4, 8, 8], msg_size=8, batch_size=8)\n"
            "m.train(steps=5)\n"
            "print('QUIET', flush=True)\n"
            "m2 = zoo_core.build('glyphnet', image_size=32, widths=[4, 8, 8], msg_size=8, batch_size=8)\n"
            "m2.train(steps=3, progress=False)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **ONE_THREAD}, timeout=scaled(300))
    assert proc.returncode == 0, proc.stderr
    bars = [ln for ln in proc.stderr.splitlines() if ln.startswith("step ")]
    assert bars and bars[-1].startswith("step 5/5") and "ETA 0:00" in bars[-1] and "elapsed" in bars[-1]
    assert not any(ln.startswith("step ") and "/3 " in ln for ln in proc.stderr.splitlines())


# -- the metrics log -----------------------------------------------------------------------------


def test_metrics_log_is_cut_back_to_the_checkpoint(tmp_path):
    from zoo_core.runtime.metrics_log import MetricsLog, read_metrics

    path = tmp_path / "metrics.jsonl"
    lines = [json.dumps({"step": s, "loss": 1.0 / s, "lr": 0.1, "time": 0.0}) for s in range(1, 13)]
    path.write_text("\n".join(lines[:12] + [lines[7]]) + '\n{"step": 13, "lo')  # a repeat and a torn line
    assert [r["step"] for r in read_metrics(path)] == [*range(1, 13), 8]
    MetricsLog(path).restart_at(10)
    assert [r["step"] for r in read_metrics(path)] == list(range(1, 11))
    log = MetricsLog(path)
    log.add(11, {"loss": 0.25}, None, 12.0)
    log.flush()
    assert read_metrics(path)[-1] == {"step": 11, "loss": 0.25, "lr": None, "time": 12.0}
    MetricsLog(path).restart_at(0)  # a fresh run starts a fresh log
    assert not path.exists()


@pytest.mark.slow
def test_kill_9_and_resume_log_each_step_exactly_once(tmp_path):
    straight = tmp_path / "straight"
    done = run_zoo(*_train_args(straight), env=ONE_THREAD)
    assert done.returncode == 0, done.stderr
    full = _log(straight)
    assert [r["step"] for r in full] == list(range(1, STEPS + 1))
    assert {"loss", "lr", "time"} <= set(full[0]) and full[0]["lr"] > full[-1]["lr"]  # glyphnet's cosine schedule
    timing = json.loads((straight / "run.json").read_text())["timing"]
    assert timing["steps"] == STEPS  # every step of the session, the first included

    killed = tmp_path / "killed"
    proc = subprocess.Popen([ZOO, *_train_args(killed)], env={**os.environ, **ONE_THREAD},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + scaled(240)
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if len(list((killed / "checkpoint").glob("step-*.safetensors"))) >= 2:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.005)
        proc.wait(timeout=scaled(60))
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    # the newest checkpoint (run.json may still name the one before: killed between the two writes)
    step = max(int(p.stem.split("-")[-1]) for p in (killed / "checkpoint").glob("step-*.safetensors"))
    assert 0 < step < STEPS
    with open(killed / "metrics.jsonl", "a") as log:  # as if killed between the log's append and the checkpoint
        log.write(json.dumps({"step": step + 1, "loss": 9.0, "lr": 0.0, "time": 0.0}) + "\n")
    resumed = run_zoo("train", str(killed), "--resume", env=ONE_THREAD)
    assert resumed.returncode == 0, resumed.stderr
    again = _log(killed)
    assert [r["step"] for r in again] == list(range(1, STEPS + 1))  # each step exactly once
    # the same losses as the uninterrupted run (bit-exact resume, one thread)
    assert [r["loss"] for r in again] == [r["loss"] for r in full]
    assert json.loads((killed / "run.json").read_text())["timing"]["steps"] == STEPS - step

    plot = run_zoo("plot", str(straight), str(killed), "-o", str(tmp_path / "curves.png"), "--engine", "pillow")
    assert plot.returncode == 0, plot.stderr
    from PIL import Image

    with Image.open(tmp_path / "curves.png") as image:
        assert image.format == "PNG" and image.width == 900 and image.height >= 260
        assert len(np.unique(np.asarray(image.convert("RGB")).reshape(-1, 3), axis=0)) > 4  # lines, not blank


def test_plot_draws_curves_of_each_metric(tmp_path):
    import numpy as np
    from PIL import Image

    from zoo_core.media.curves import COLOURS, plot_runs

    for name, scale in (("a", 1.0), ("b", 2.0)):
        run = tmp_path / name
        run.mkdir()
        (run / "metrics.jsonl").write_text("".join(
            json.dumps({"step": s, "loss": scale / s, "lr": 0.01, "time": float(s)}) + "\n" for s in range(1, 201)))
    out = plot_runs([tmp_path / "a", tmp_path / "b"], tmp_path / "c.png", engine="pillow")
    pixels = np.asarray(Image.open(out).convert("RGB"))
    assert pixels.shape == (2 * 260, 900, 3)  # loss and lr panels
    for colour in COLOURS[:2]:  # both runs drawn
        assert (pixels == np.array(colour, dtype=np.uint8)).all(axis=-1).sum() > 200


def test_plot_of_a_folder_without_a_log_is_one_line(tmp_path):
    proc = run_zoo("plot", str(tmp_path), "-o", str(tmp_path / "x.png"))
    assert_one_line_error(proc, "no metrics.jsonl")


# -- Ctrl-C ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_ctrl_c_prints_the_exact_resume_command(tmp_path):
    run = tmp_path / "run dir"
    proc = subprocess.Popen([ZOO, *_train_args(run, steps=100000)], env={**os.environ, **ONE_THREAD},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + scaled(240)
    while time.monotonic() < deadline and not (run / "checkpoint").is_dir():
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=scaled(120))
    assert proc.returncode == 130, err
    last = err.strip().splitlines()[-1]
    assert last.endswith(f"Resume with: zoo train '{run}' --resume --device cpu"), last
    step = json.loads((run / "run.json").read_text())["step"]
    assert [r["step"] for r in _log(run)] == list(range(1, step + 1))
