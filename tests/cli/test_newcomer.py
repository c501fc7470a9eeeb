"""A newcomer's first day (issue 34): model cards read locally, plugin commands listed, model
names completed, integer bounds printed as integers, sane interpolate defaults, and the test
harness's slowness factor."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from helpers.clitools import ZOO, assert_one_line_error, invoke, run_zoo
from helpers.slowness import scaled

import zoo_core


def test_info_card_of_a_bundled_model_has_eval_results_and_recipe():
    from huggingface_hub import ModelCard

    proc = run_zoo("info", "glyphnet-64", "--card", env={"OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    card = ModelCard(proc.stdout)  # huggingface_hub parses it back, as the Hub would
    results = {r.metric_type: r.metric_value for r in card.data.eval_results}
    assert results["cosine_channel"] > 0.9 and results["messages"] == 1000  # the shipped model's own figures
    assert card.data.recipe["steps"] == 4000 and card.data.recipe["lr"] == 0.002  # its registry recipe
    assert "## Training recipe" in proc.stdout and "## Evaluation" in proc.stdout
    assert zoo_core.get_entry("glyphnet-64").weights.sha256 in proc.stdout
    assert "64x64 grey glyphs" in proc.stdout  # the entry's description


def test_info_card_of_a_saved_model_without_eval(tmp_path, toy_registry):
    model = zoo_core.build("toy-8")
    model.save(tmp_path / "m")
    card = zoo_core.api.model_card(tmp_path / "m", evaluate=False, repo_id="me/m")
    assert card.data.recipe["family"] == "toy" and "hf://me/m" in str(card)
    with pytest.raises(zoo_core.ZooError, match="is a family"):
        zoo_core.api.model_card("toy")


def test_plugins_lists_the_commands_each_plugin_adds():
    proc = run_zoo("plugins")
    assert proc.returncode == 0, proc.stderr
    blocks = proc.stdout.split("\n", 0)[0]
    assert "commands: zoo layers, zoo visualize, zoo activations" in blocks
    assert "commands: zoo random-cnn-grid" in blocks


def test_shell_completion_completes_model_and_family_names():
    env = {**os.environ, "_ZOO_COMPLETE": "bash_complete", "COMP_WORDS": "zoo sample glyphnet-6", "COMP_CWORD": "2"}
    proc = subprocess.run([ZOO], capture_output=True, text=True, env=env, timeout=scaled(60))
    assert "plain,glyphnet-64\n" in proc.stdout and "plain,glyphnet-64-rgb\n" in proc.stdout
    env.update(COMP_WORDS="zoo train vae", COMP_CWORD="2")
    proc = subprocess.run([ZOO], capture_output=True, text=True, env=env, timeout=scaled(60))
    assert proc.stdout.startswith("plain,vae\n") and "plain,vae-digits-28\n" in proc.stdout


def test_integer_bounds_print_as_integers(runner):
    result = invoke(runner, "info", "glyphnet-64", "--options")
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line for line in result.output.splitlines()[2:]}
    assert " 0..4294967295 " in rows["seed"] and " 1..10000000 " in rows["steps"]
    assert "e+" not in result.output


def test_train_family_warns_it_is_not_a_shipped_recipe(tmp_path):
    proc = run_zoo("train", "glyphnet", "-o", str(tmp_path / "r"), "--steps", "1", "--set", "image_size=32",
                   "--set", "widths=4,8,8", "--set", "batch_size=4", "--device", "cpu", env={"OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    assert "zoo: warning: 'glyphnet' trains the family's default config" in proc.stderr
    assert "glyphnet-64" in proc.stderr.splitlines()[0]
    bad = run_zoo("train", "glyphnet", "-o", str(tmp_path / "r2"), "--set", "image_size=32", "--set", "widths=4,8")
    assert_one_line_error(bad, "needs at least 3 widths")  # a bad --set: the error alone, no warning first


def test_plot_refuses_other_suffixes(tmp_path):
    assert_one_line_error(run_zoo("plot", str(tmp_path), "-o", str(tmp_path / "x.gif")), ".png")


# -- the test harness itself ---------------------------------------------------------------------


def test_slowness_factor_is_forced_measured_and_exported(monkeypatch):
    from helpers import slowness

    monkeypatch.setattr(slowness, "_measured", None)
    monkeypatch.setenv(slowness.ENV, "3")
    monkeypatch.setattr(slowness, "load_per_core", lambda: 0.0)
    assert slowness.factor() == 3.0 and slowness.scaled(10) == 30.0 and slowness.scaled_int(10) == 31
    monkeypatch.setattr(slowness, "load_per_core", lambda: 8.0)  # the load grew since: the limit follows it
    assert slowness.scaled(10) == 80.0
    monkeypatch.setattr(slowness, "_measured", None)
    monkeypatch.delenv(slowness.ENV)
    monkeypatch.setattr(slowness, "_workload", lambda: 4 * slowness.REFERENCE_SECONDS)  # a 4x slower machine
    monkeypatch.setattr(slowness, "load_per_core", lambda: 0.5)
    assert slowness.factor() == 4.0 and os.environ[slowness.ENV] == "4.00"  # handed to child processes


@pytest.mark.slow
def test_measured_factor_grows_with_two_cpu_bound_processes_beside_it():
    from helpers import slowness

    quiet = min(slowness._workload() for _ in range(9))
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2 * (os.cpu_count() or 1))]
    try:
        loaded = statistics_median([slowness._workload() for _ in range(9)])
    finally:
        for proc in burners:
            proc.kill()
            proc.wait()
    # sharing the cores with twice as many busy processes, the same workload takes longer, and the
    # factor (wall time of the workload) says so
    assert loaded > 1.3 * quiet, (quiet, loaded)


def statistics_median(values: list[float]) -> float:
    import statistics

    return statistics.median(values)
