"""A hostile Hub endpoint on 127.0.0.1 (tests/helpers/hostile_hub.py): nothing written outside the cache, one sha256 truth."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import hub_server
from helpers.hostile_hub import HostileHub
from helpers.pluginenv import error_lines, zoo
from zoo_core import hub
from zoo_core.io.weights import sha256_file
from helpers.toyplugin import build_toy, saved_files


def saved(folder: Path, seed: int) -> dict[str, bytes]:
    """The files of a ``toy`` model saved into ``folder``."""
    build_toy(seed=seed).save(folder)
    return saved_files(folder)


@pytest.fixture
def endpoint(tmp_path):
    files = saved(tmp_path / "model", seed=1)
    with HostileHub(tmp_path / "escape", model=files) as server:
        site = hub_server.install_test_plugin(tmp_path / "site")
        env = {"HF_ENDPOINT": server.url, "HF_HOME": str(tmp_path / "hf"), "XDG_DATA_HOME": str(tmp_path / "data"),
               "ZOO_PLUGINS": "toy", "HF_HUB_DISABLE_TELEMETRY": "1"}
        yield server, site, env, tmp_path


def test_a_revision_that_is_a_path_never_reaches_the_endpoint_or_the_disk(endpoint):
    server, site, env, tmp = endpoint
    rel = "../" * 12 + str(tmp / "escape").lstrip("/")
    for args in (["pull", f"hf://evil/any@{rel}/written-by-zoo"], ["sample", f"hf://evil/any@{rel}", "-o", "x.png"],
                 ["push", str(tmp / "model"), "--repo", "evil/any", "--revision", f"{rel}/x"]):
        proc = zoo(*args, path=[site], env=env, cwd=tmp)
        assert proc.returncode == 2 and len(error_lines(proc.stderr)) == 1, proc.stderr
        assert "malformed revision" in proc.stderr or "not a valid branch" in proc.stderr
    assert server.requests == [] and not (tmp / "escape").exists() and not (tmp / "x.png").exists()


def test_a_commit_id_that_is_a_path_is_refused_before_any_download(endpoint):
    server, site, env, tmp = endpoint
    proc = zoo("pull", "hf://evil/badsha", path=[site], env=env, cwd=tmp)
    assert proc.returncode == 2 and "answered a malformed commit id" in proc.stderr, proc.stderr
    assert not (tmp / "escape").exists()
    assert all("/tree/" not in r and "/resolve/" not in r for r in server.requests), server.requests


def test_cache_tampering_with_an_edited_config_is_caught_by_the_pin(endpoint):
    server, site, env, tmp = endpoint
    pulled = zoo("pull", "hf://evil/any", path=[site], env=env, cwd=tmp)
    assert pulled.returncode == 0, pulled.stderr
    pins = json.loads((tmp / "data" / "zoo" / "hub-pins.json").read_text())["pins"]
    real = pins["evil/any"]["weights_sha256"]
    snap = next((tmp / "hf" / "hub" / "models--evil--any" / "snapshots").iterdir())
    other = saved(tmp / "other", seed=2)
    blob = (snap / "model.safetensors").resolve()
    blob.write_bytes(other["model.safetensors"])  # tamper with the cached weights ...
    config = (snap / "config.json").resolve()
    meta = json.loads(config.read_text())
    meta["weights_sha256"] = sha256_file(blob)  # ... and make the cached config agree with them
    config.write_text(json.dumps(meta))
    assert meta["weights_sha256"] != real
    proc = zoo("sample", "hf://evil/any", "-o", str(tmp / "x.png"), path=[site], env={**env, "HF_HUB_OFFLINE": "1"},
               cwd=tmp)
    assert proc.returncode == 2, proc.stderr
    (line,) = error_lines(proc.stderr)
    assert "sha256 mismatch" in line and "pin" in line and real[:12] in line
    assert not (tmp / "x.png").exists()


@pytest.mark.parametrize("repo_id", ["org/repo", "a/b", "Org_1/Repo-2.x", "_a/b_", "a" * 96 + "/b", "org/repo.git",
                                     "org--x/repo", "org/re..po", "-org/repo", "org/repo-", ".org/repo", "org/.repo",
                                     "a" * 97 + "/b", "org/rép", "org/re po", "org/repo/x"])
def test_repo_ids_follow_huggingface_hubs_own_validator(repo_id):
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(repo_id)
        theirs = True
    except HFValidationError:
        theirs = False
    assert hub.valid_repo_id(repo_id) == theirs


def test_revisions_that_are_paths_are_refused():
    for good in ("main", "v1.0", "refs/pr/1", "feature/x-y_z", "a" * 40):
        assert hub.valid_revision(good), good
    for bad in ("", "..", "../x", "a/../b", ".hidden", "a/.b", "x.lock", "a//b", "/abs", "a/", "a b", "a\nb",
                "a\\b", "a:b", "x" * 201):
        assert not hub.valid_revision(bad), bad
