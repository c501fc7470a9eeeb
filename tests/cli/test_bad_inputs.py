"""The generated bad-input corpus (tests/helpers/badinput.py) against this checkout: every case handled.

A few hundred cases are built at test time (hostile option values, config values, catalogs,
saved model folders, data files, Hub references and a hostile Hub endpoint on 127.0.0.1) and run
in two child interpreters under ``RLIMIT_AS`` (2 GiB without a framework, 12 GiB with torch and
TensorFlow). Each must end in one ``zoo: error:`` line and exit 2, without a traceback, a hang,
the memory limit, or an output file; a few must instead carry on (``zoo --help`` with a broken
catalog). ``python tests/helpers/badinput.py count ROOT`` prints the same per-group counts for any
checkout.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import badinput
from helpers.hostile_hub import HostileHub

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
GROUPS = ("seeds", "options", "config", "catalog", "saved", "data", "runs", "hub")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    work = tmp_path_factory.mktemp("badinput")
    with HostileHub(work / "escape") as hub:
        cases, verdicts = badinput.run_corpus(ROOT, work, hub.url)
        requests = list(hub.requests)
    return cases, verdicts, requests, work


def test_the_corpus_is_a_few_hundred_cases_across_every_group(corpus):
    cases, _, _, _ = corpus
    counts = badinput.counts(cases, [""] * len(cases))
    assert set(counts) == set(GROUPS)
    assert all(total >= 20 for _, total in counts.values()), counts
    assert len(cases) >= 300
    assert len({c["id"] for c in cases}) == len(cases)


@pytest.mark.parametrize("group", GROUPS)
def test_every_bad_input_is_one_line_exit_2(corpus, group):
    cases, verdicts, _, _ = corpus
    failed = [f"{c['id']!r}: {v}" for c, v in zip(cases, verdicts) if c["group"] == group and v]
    assert not failed, f"{len(failed)} cases of '{group}' not handled:\n" + "\n".join(failed[:40])


def test_malformed_references_never_reach_the_endpoint(corpus):
    _, _, requests, work = corpus
    assert not (work / "escape").exists()
    assert not [r for r in requests if ".." in r or "\\x" in r], requests


def test_the_judge_can_fail():
    """The corpus's verdicts are not vacuous: a traceback, a second line, exit 1 or a file written all fail."""
    case = {"expect": "error", "outputs": [__file__]}
    ok = {"rc": 2, "stderr": "zoo: error: x\n", "stdout": "", "traceback": False, "hang": False}
    assert badinput.judge({**case, "outputs": []}, ok) == ""
    assert badinput.judge(case, ok).startswith("wrote")
    assert badinput.judge({**case, "outputs": []}, {**ok, "stderr": "zoo: error: x\nmore\n"})
    assert badinput.judge({**case, "outputs": []}, {**ok, "rc": 1})
    assert badinput.judge({**case, "outputs": []}, {**ok, "traceback": True})
    assert badinput.judge({**case, "outputs": []}, {**ok, "hang": True})
