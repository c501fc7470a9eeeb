"""Hugging Face Hub support against real servers on 127.0.0.1 (no internet).

Reads go through olah (an offline Hub mirror serving git repos), writes through the small write
API in ``hub_server.py``, which commits into olah's mirrors and forwards reads to olah. The CLI
runs in subprocesses with ``HF_ENDPOINT`` etc. set, as huggingface_hub reads them at import time.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from helpers import hub_server
from helpers import toyplugin
from zoo_core import hub
from zoo_core.errors import HubRefError
from zoo_core.hub.publishing import push
from zoo_core.hub.cards import model_card
from zoo_core.catalog import WeightsRef
from zoo_core.io.weights import sha256_file
from helpers.toyplugin import Toy, build_toy, saved_files
from helpers.slowness import scaled

pytestmark = pytest.mark.slow
TOKEN = "hf_test_write"


def make_model(directory: Path, seed: int, **extra) -> Path:
    """A saved ``toy`` model (built without the registry: the family object is imported)."""
    return build_toy(seed=seed).save(directory, extra=extra or None)


def model_files(directory: Path, **replace: bytes | None) -> dict[str, bytes]:
    files = saved_files(directory)
    files["README.md"] = b"---\nlibrary_name: zoo\n---\n# test model\n"
    files.update(replace)
    return {k: v for k, v in files.items() if v is not None}


class Servers:
    """olah + the write API + the test plugin, and the model repos the tests use."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.olah = hub_server.Olah(root / "olah").start()
        self.hub = hub_server.HubServer(self.olah.mirrors, upstream=self.olah.url, tokens=(TOKEN,),
                                        gated=("someone/gated",)).start()
        self.site = hub_server.install_test_plugin(root / "site")
        self.v1_dir = make_model(root / "models" / "v1", seed=1)
        self.main_dir = make_model(root / "models" / "main", seed=2)
        mirrors = self.olah.mirrors
        lfs = ("model.safetensors",)  # weights as git-LFS objects, as on the Hub
        self.v1 = hub_server.make_model_repo(mirrors, "someone/glyphs", model_files(self.v1_dir), tags=("v1",),
                                             lfs=lfs)
        repo = hub_server.mirror_path(mirrors, "someone/glyphs")
        self.main = hub_server.commit_files(repo, "main", model_files(self.main_dir), "retrain", lfs=lfs)
        hub_server.make_model_repo(mirrors, "someone/gated", model_files(self.v1_dir))
        hub_server.make_model_repo(mirrors, "someone/nomodel", model_files(self.v1_dir, **{"model.safetensors": None}))
        bad = json.loads((self.v1_dir / "config.json").read_text())
        bad["weights_sha256"] = "0" * 64
        hub_server.make_model_repo(mirrors, "someone/badsha",
                                   model_files(self.v1_dir, **{"config.json": json.dumps(bad).encode()}))
        hub_server.make_model_repo(mirrors, "someone/concurrent", model_files(self.main_dir))
        hub_server.make_model_repo(mirrors, "someone/catalog", model_files(self.v1_dir))

    def env(self, home: Path, **extra: str) -> dict[str, str]:
        """Environment for a CLI subprocess with its own Hugging Face cache and zoo state."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("HF_", "HUGGINGFACE_", "ZOO_", "XDG_"))}
        path = os.pathsep.join([str(self.site)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []))
        env.update(PYTHONPATH=path, ZOO_PLUGINS="toy", HF_ENDPOINT=self.hub.url,
                   HF_HOME=str(home / "hf"), XDG_DATA_HOME=str(home / "data"), XDG_CONFIG_HOME=str(home / "config"),
                   HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_IMPLICIT_TOKEN="1")
        env.update(extra)
        return env


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    s = Servers(tmp_path_factory.mktemp("hub"))
    yield s
    s.hub.stop()
    s.olah.stop()


def zoo(env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the installed ``zoo`` CLI."""
    Path(env["HF_HOME"]).parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run([sys.executable, "-m", "zoo_cli.main", *args], env=env, capture_output=True,
                            text=True, timeout=scaled(120), cwd=Path(env["HF_HOME"]).parent)
    if check:
        assert result.returncode == 0, f"zoo {' '.join(args)} -> {result.returncode}\n{result.stderr}"
    return result


def zoo_parallel(*calls: tuple[dict, list[str]]) -> list[subprocess.CompletedProcess]:
    """Run independent ``zoo`` commands at the same time (they wait on the servers, not the CPU)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda call: zoo(call[0], *call[1]), calls))


def assert_one_line_error(result: subprocess.CompletedProcess, *needles: str) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip() and "%|" not in line]  # not progress bars
    assert len(lines) == 1 and lines[0].startswith("zoo: error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def pins(home: Path) -> dict:
    return json.loads((home / "data" / "zoo" / "hub-pins.json").read_text())["pins"]


# -- references ----------------------------------------------------------------------------------


@pytest.mark.parametrize("text,repo,rev", [
    ("hf://someone/glyphs", "someone/glyphs", None),
    ("hf://someone/glyphs@v1", "someone/glyphs", "v1"),
    ("someone/glyphs@refs/pr/1", "someone/glyphs", "refs/pr/1"),
])
def test_parse_ref(text, repo, rev):
    ref = hub.parse_ref(text)
    assert (ref.repo_id, ref.revision) == (repo, rev)
    assert hub.parse_ref(str(ref)) == ref


@pytest.mark.parametrize("text", ["hf://glyphs", "hf://a/b/c", "hf://a/b@", "hf://../x", "hf://a--b/c", "hf:// a/b"])
def test_parse_ref_rejects(text):
    with pytest.raises(HubRefError, match="Hub reference|revision"):
        hub.parse_ref(text)


def test_cache_and_state_locations_follow_the_environment(tmp_path, monkeypatch):
    for key in ("HF_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "HF_ENDPOINT", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert hub.cache_dir() == tmp_path / ".cache" / "huggingface" / "hub"
    assert hub.state_dir() == tmp_path / ".local" / "share" / "zoo"
    assert hub.endpoint() == "https://huggingface.co" and not hub.offline()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert hub.cache_dir() == tmp_path / "xdg" / "huggingface" / "hub"
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    assert hub.cache_dir() == tmp_path / "home" / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    assert hub.cache_dir() == tmp_path / "cache"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert hub.state_dir() == tmp_path / "data" / "zoo"
    monkeypatch.setenv("HF_ENDPOINT", "http://mirror.invalid/")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert hub.endpoint() == "http://mirror.invalid" and hub.offline()


# -- pulling, pinning, offline -------------------------------------------------------------------


def test_an_hf_model_with_overrides_is_fetched_once_and_hashed_once(servers, tmp_path):
    """``zoo sample hf://... --set`` resolves the reference once: one snapshot, one sha256 of the weights."""
    env = servers.env(tmp_path)
    zoo(env, "pull", "-q", "hf://someone/glyphs@v1")
    code = (
        "import json, sys\n"
        "import zoo_core.hub.download as d, zoo_core.io.weights as w\n"
        "calls = {'snapshot': 0, 'sha256': 0}\n"
        "def count(key, fn):\n"
        "    def wrapped(*a, **k):\n"
        "        calls[key] += 1\n"
        "        return fn(*a, **k)\n"
        "    return wrapped\n"
        "d.snapshot = count('snapshot', d.snapshot)\n"
        "w.sha256_file = count('sha256', w.sha256_file)\n"
        "from zoo_cli.main import cli\n"
        "cli.main(['sample', 'hf://someone/glyphs@v1', '--set', 'size=8', '-n', '2', '-o', sys.argv[1]],\n"
        "         standalone_mode=False)\n"
        "print(json.dumps(calls))\n")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "s.png")], env=env, capture_output=True,
                         text=True, timeout=scaled(120), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"snapshot": 1, "sha256": 1}
    assert (tmp_path / "s.png").is_file()




def test_pull_pins_the_commit_and_works_offline(servers, tmp_path):
    env = servers.env(tmp_path)
    out = zoo(env, "pull", "hf://someone/glyphs@v1").stdout
    assert servers.v1 in out and servers.main not in out
    pin = pins(tmp_path)["someone/glyphs"]
    assert pin["commit"] == servers.v1 and pin["revision"] == "v1"
    assert pin["weights_sha256"] == sha256_file(servers.v1_dir / "model.safetensors")
    # served as a git-LFS object: the cache names the blob by its sha256 (a git blob would be a sha1)
    snapshot = tmp_path / "hf" / "hub" / "models--someone--glyphs" / "snapshots" / servers.v1
    assert (snapshot / "model.safetensors").resolve().name == pin["weights_sha256"]

    # the Hub unreachable: pulling again pins the cached commit, with a warning
    dead = servers.env(tmp_path, HF_ENDPOINT=f"http://127.0.0.1:{hub_server.free_port()}")
    again = zoo(dead, "pull", "-q", "hf://someone/glyphs@v1")
    assert servers.v1 in again.stdout and "warning: cannot reach" in again.stderr

    # offline, the unrevisioned ref means the pinned v1 commit (main has other weights)
    offline = servers.env(tmp_path, HF_HUB_OFFLINE="1", HF_ENDPOINT="http://127.0.0.1:9")
    zoo_parallel(*[(offline, ["sample", target, "-n", "4", "--seed", "7", "-o", str(tmp_path / name)])
                   for target, name in [("hf://someone/glyphs", "hub.npy"), ("hf://someone/glyphs@v1", "tag.npy"),
                                        (str(servers.v1_dir), "local.npy"), (str(servers.main_dir), "main.npy")]])
    hub_images, local = np.load(tmp_path / "hub.npy"), np.load(tmp_path / "local.npy")
    np.testing.assert_array_equal(hub_images, local)
    np.testing.assert_array_equal(np.load(tmp_path / "tag.npy"), local)
    assert not np.array_equal(hub_images, np.load(tmp_path / "main.npy"))
    info = zoo(offline, "info", "hf://someone/glyphs", check=False)
    assert "Traceback" not in info.stderr

    # pulling without a revision moves the pin to main
    zoo(env, "pull", "-q", "hf://someone/glyphs")
    assert pins(tmp_path)["someone/glyphs"]["commit"] == servers.main
    listed = json.loads(zoo(env, "cache", "list", "--json").stdout)
    assert [(m["ref"], m["commit"], m["present"]) for m in listed] == [("hf://someone/glyphs", servers.main, True)]

    # clearing forgets the pin and the files: offline use now says what to do
    assert "cleared hf://someone/glyphs" in zoo(env, "cache", "clear", "hf://someone/glyphs").stdout
    assert not (tmp_path / "hf" / "hub" / "models--someone--glyphs" / "snapshots" / servers.main).exists()
    assert json.loads(zoo(env, "cache", "list", "--json").stdout) == []
    assert_one_line_error(zoo(offline, "sample", "hf://someone/glyphs", "-o", str(tmp_path / "x.png"), check=False),
                          "HF_HUB_OFFLINE=1", "zoo pull hf://someone/glyphs")


def test_in_process_calls_read_the_environment_at_call_time(servers, tmp_path, monkeypatch):
    """HF_ENDPOINT/HF_HOME set after huggingface_hub was imported still apply (passed explicitly)."""
    import huggingface_hub
    from huggingface_hub import try_to_load_from_cache

    for key, value in servers.env(tmp_path, HF_ENDPOINT=servers.olah.url).items():
        if key.startswith(("HF_", "XDG_")):
            monkeypatch.setenv(key, value)
    assert huggingface_hub.constants.ENDPOINT != servers.olah.url
    folder, commit = hub.pull("hf://someone/glyphs@v1", progress=False)
    assert commit == servers.v1 and folder.parent.parent.parent == tmp_path / "hf" / "hub"
    assert (folder / "README.md").is_file()

    cache = str(hub.cache_dir())
    sha = sha256_file(servers.v1_dir / "model.safetensors")
    for source, revision in [("hf://someone/glyphs@v1", "v1"), ("hf://someone/glyphs@main", "main"),
                             (f"hf://someone/glyphs@{servers.v1}", servers.v1),
                             ("hf://someone/glyphs@nothere", "nothere"), ("hf://someone/absent", "main")]:
        ours = hub.cached_weights(WeightsRef(source, sha))
        theirs = try_to_load_from_cache(hub.parse_ref(source).repo_id, "model.safetensors", cache_dir=cache,
                                        revision=revision)
        assert ours == (Path(theirs) if isinstance(theirs, str) else None), source
    # the unrevisioned source means the pin
    assert hub.cached_weights(WeightsRef("hf://someone/glyphs", sha)) == folder / "model.safetensors"

    # re-pulling a cached model and using a pinned one never import huggingface_hub (slow to import)
    code = ("import sys; from zoo_core import hub; from zoo_core.catalog import WeightsRef; "
            "print(hub.pull('hf://someone/glyphs@v1', progress=False)[1]); hub.snapshot('hf://someone/glyphs'); "
            "assert hub.cached_weights(WeightsRef('hf://someone/glyphs', 64 * '0')); "
            "print('huggingface_hub' in sys.modules)")
    env = servers.env(tmp_path, HF_ENDPOINT=servers.olah.url)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == [servers.v1, "False"]


# -- pushing -------------------------------------------------------------------------------------


def test_push_then_pull_then_sample_gives_identical_images(servers, tmp_path):
    from PIL import Image

    from zoo_core.media.images import tile

    mine = make_model(tmp_path / "runs" / "mine", seed=11, eval={"nll": 1.25, "steps": 300})
    env = servers.env(tmp_path, HF_TOKEN=TOKEN)
    out = zoo(env, "push", str(mine), "--repo", "me/glyphs", "-m", "first model").stdout
    commit = servers.hub.commits[-1]["commit"]
    assert f"/me/glyphs/commit/{commit}" in out
    assert servers.hub.commits[-1]["files"] == ["README.md", "config.json", "model.safetensors", "sample.png",
                                                "samples/seed-1.png", "samples/seed-2.png", "samples/seed-3.png"]

    other = tmp_path / "other"  # another machine: fresh cache and state, anonymous
    pulled = zoo(servers.env(other), "pull", "hf://me/glyphs").stdout
    assert commit in pulled
    zoo_parallel(*[(servers.env(other), ["sample", target, "--seed", "5", "-o", str(tmp_path / name)])
                   for name, target in (("hub.png", "hf://me/glyphs"), ("local.png", str(mine)))])
    assert (tmp_path / "hub.png").read_bytes() == (tmp_path / "local.png").read_bytes()

    snapshot = other / "hf" / "hub" / "models--me--glyphs" / "snapshots" / commit
    card = (snapshot / "README.md").read_text()
    for needle in ("library_name: zoo", "family: toy", '"seed": 11', "| nll | 1.25 |", "sample.png"):
        assert needle in card
    # zoo info --card: the pulled model's card is the one pushed; the local folder's is the one push would write
    assert zoo(servers.env(other), "info", "hf://me/glyphs", "--card").stdout.strip() == card.strip()
    local = zoo(servers.env(other), "info", str(mine), "--card", "--no-eval", "--repo-id", "me/glyphs").stdout
    assert local.strip() == card.strip()
    repo = hub_server.mirror_path(servers.olah.mirrors, "me/glyphs")
    png = subprocess.run(["git", "--git-dir", str(repo), "show", f"{commit}:sample.png"], capture_output=True,
                         check=True).stdout
    grid = np.asarray(Image.open(io.BytesIO(png)))
    model = Toy(json.loads((mine / "config.json").read_text())["config"])
    np.testing.assert_array_equal(grid, tile(model.sample(16, seed=0))[..., 0])

    # a second push to a new branch; pull it by name
    mine2 = make_model(tmp_path / "runs" / "mine2", seed=12)
    zoo(env, "push", str(mine2), "--repo", "me/glyphs", "--revision", "dev")
    dev = servers.hub.commits[-1]
    assert dev["revision"] == "dev" and dev["commit"] != commit
    assert dev["commit"] in zoo(servers.env(other), "pull", "-q", "hf://me/glyphs@dev").stdout


def test_model_card_metadata_is_valid_yaml():
    import yaml

    meta = {"family": "glyphnet", "framework": "torch", "config": {"size": 64}, "weights_sha256": "ab" * 32,
            "license": "Apache-2.0", "metrics": {"fid": 12.5, "ok": True}}
    card = model_card(meta, "me/glyphs")
    front = yaml.safe_load(card.split("---\n")[1])
    assert front["library_name"] == "zoo" and front["license"] == "apache-2.0"
    assert front["family"] == "glyphnet" and {"zoo", "glyphnet", "torch"} <= set(front["tags"])
    assert "| fid | 12.5 |" in card and "| ok |" not in card


def test_card_recipe_states_a_resume_that_changed_the_schedule():
    from zoo_core.hub.cards import recipe

    run = {"family": "glyphnet", "config": {"lr": 0.002}, "step": 14000, "steps": 14000,
           "schedule": [{"from": 0, "steps": 7000}, {"from": 7000, "steps": 14000, "config": {"lr": 0.001}}]}
    assert recipe({}, run)["schedule"] == "from step 0: 7000 steps in all; from step 7000: 14000 steps in all, lr 0.001"
    assert "schedule" not in recipe({}, {**run, "schedule": [{"from": 0, "steps": 14000}]})  # one plan: steps says it


# -- many processes at once ------------------------------------------------------------------------


def test_eight_concurrent_pulls_download_once(servers, tmp_path):
    env = servers.env(tmp_path)
    procs = [subprocess.Popen([sys.executable, "-m", "zoo_cli.main", "pull", "-q", "hf://someone/concurrent"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(8)]
    results = [(p.wait(120), *p.communicate()) for p in procs]
    assert [rc for rc, _, _ in results] == [0] * 8, [err for _, _, err in results]
    commits = {out.split("commit ")[1].split()[0] for _, out, _ in results}
    assert len(commits) == 1 and pins(tmp_path)["someone/concurrent"]["commit"] in commits
    assert servers.olah.requests("GET", "/someone/concurrent/resolve/") == 3  # one GET per file, in all
    assert servers.olah.requests("GET", "/someone/concurrent/resolve/" + commits.pop() + "/model.safetensors") == 1


# -- errors: one line, exit 2, no traceback --------------------------------------------------------

ERRORS = {
    "repo-not-found": (["pull", "-q", "hf://someone/nope"], {}, ["repository 'someone/nope' not found"]),
    "revision-missing": (["pull", "-q", "hf://someone/glyphs@v9"], {}, ["has no revision 'v9'"]),
    "file-missing": (["pull", "-q", "hf://someone/nomodel"], {}, ["has no model.safetensors", "zoo push"]),
    "no-network": (["pull", "-q", "hf://someone/glyphs"], {"HF_ENDPOINT": "dead"},
                   ["cannot reach", "HF_HUB_OFFLINE=1", "zoo pull hf://someone/glyphs"]),
    "offline-not-cached": (["sample", "hf://someone/glyphs"], {"HF_HUB_OFFLINE": "1"},
                           ["HF_HUB_OFFLINE=1 is set", "zoo pull hf://someone/glyphs"]),
    "token-refused-pull": (["pull", "-q", "hf://someone/glyphs"], {"HF_TOKEN": "hf_wrong"},
                           ["refused the token in HF_TOKEN (401)", "read access"]),
    "token-refused-push": (["push", "MODEL", "--repo", "me/denied"], {"HF_TOKEN": "hf_wrong"},
                           ["refused the token in HF_TOKEN (401)", "write access"]),
    "gated": (["pull", "-q", "hf://someone/gated"], {}, ["refused your Hugging Face token (403)", "read access"]),
    "bad-ref": (["pull", "hf://glyphs"], {}, ["not a Hub reference"]),
}


@pytest.fixture(scope="module")
def error_runs(servers, tmp_path_factory):
    """Every error case of :data:`ERRORS`, run at the same time, each with a fresh cache."""
    root = tmp_path_factory.mktemp("errors")
    model = str(make_model(root / "model", seed=3))

    def run(case: str) -> subprocess.CompletedProcess:
        args, extra, _ = ERRORS[case]
        if extra.get("HF_ENDPOINT") == "dead":
            extra = {**extra, "HF_ENDPOINT": f"http://127.0.0.1:{hub_server.free_port()}"}
        args = [model if a == "MODEL" else a for a in args]
        return zoo(servers.env(root / case, **extra), *args, check=False)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(sorted(ERRORS), pool.map(run, sorted(ERRORS))))


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_errors_are_one_line(error_runs, case):
    assert_one_line_error(error_runs[case], *ERRORS[case][2])


def test_sha256_mismatch_deletes_the_file_and_refuses(servers, tmp_path):
    env = servers.env(tmp_path)
    line = assert_one_line_error(zoo(env, "pull", "-q", "hf://someone/badsha", check=False),
                                 "sha256 mismatch", "config.json", "removed from the cache")
    assert "000000000000" in line
    snapshots = list((tmp_path / "hf" / "hub" / "models--someone--badsha" / "snapshots").iterdir())
    assert len(snapshots) == 1 and not (snapshots[0] / "model.safetensors").exists()
    assert (snapshots[0] / "config.json").exists()
    blobs = tmp_path / "hf" / "hub" / "models--someone--badsha" / "blobs"
    sha = sha256_file(servers.v1_dir / "model.safetensors")
    assert all(sha256_file(b) != sha for b in blobs.iterdir())
    assert not (tmp_path / "data" / "zoo" / "hub-pins.json").exists()  # nothing pinned


# -- the user catalog --------------------------------------------------------------------------------


def test_user_catalog_with_hub_weights(servers, tmp_path):
    sha = sha256_file(servers.v1_dir / "model.safetensors")
    catalog = {"models": [
        {"name": "remote-glyphs", "family": "toy", "config": {"seed": 1},
         "weights": {"source": "hf://someone/catalog", "sha256": sha}, "description": "from the Hub"},
        {"name": "remote-wrong", "family": "toy",
         "weights": {"source": "hf://someone/catalog@main", "sha256": "1" * 64}},
        {"name": "ghost", "family": "not-loaded"},
    ]}
    path = tmp_path / "org-registry.json"
    path.write_text(json.dumps(catalog))
    env = servers.env(tmp_path, ZOO_REGISTRY=str(path))

    rows = {r["name"]: r for r in json.loads(zoo(env, "list", "--json").stdout)}
    assert sorted(rows) == ["remote-glyphs", "remote-wrong"]  # 'ghost' has no loaded family
    assert rows["remote-glyphs"]["weights_local"] is False and rows["remote-glyphs"]["origin"] == str(path)

    assert_one_line_error(zoo(env, "sample", "remote-wrong", "-o", str(tmp_path / "w.png"), check=False),
                          "sha256 mismatch", "catalog")
    zoo(env, "sample", "remote-glyphs", "-n", "4", "-o", str(tmp_path / "cat.npy"))
    zoo(env, "sample", str(servers.v1_dir), "-n", "4", "-o", str(tmp_path / "dir.npy"))
    np.testing.assert_array_equal(np.load(tmp_path / "cat.npy"), np.load(tmp_path / "dir.npy"))
    rows = {r["name"]: r for r in json.loads(zoo(env, "list", "--json").stdout)}
    assert rows["remote-glyphs"]["weights_local"] is True

    # the default location is $XDG_CONFIG_HOME/zoo/registry.json; invalid entries name file and field
    default = tmp_path / "config" / "zoo" / "registry.json"
    default.parent.mkdir(parents=True)
    default.write_text(json.dumps({"models": [{"name": "Bad Name", "family": "toy"}]}))
    bad = zoo(servers.env(tmp_path), "list", check=False)
    assert_one_line_error(bad, str(default), "field 'name'")


def test_user_catalog_overrides_builtin(tmp_path, monkeypatch):
    from zoo_core import plugins

    builtin, user = tmp_path / "registry.json", tmp_path / "user.json"
    builtin.write_text(json.dumps({"models": [{"name": "a", "family": "toy", "description": "built-in"},
                                              {"name": "b", "family": "ghost"}]}))
    user.write_text(json.dumps({"models": [{"name": "a", "family": "toy", "description": "mine"},
                                           {"name": "c", "family": "ghost"},
                                           {"name": "d", "family": "toy", "config": {"size": 4}}]}))
    monkeypatch.setattr(plugins, "builtin_catalog_path", lambda: builtin)
    monkeypatch.setenv("ZOO_PLUGINS", "")
    monkeypatch.setenv("ZOO_REGISTRY", str(user))
    registry = plugins.Registry()
    registry.add_plugin(toyplugin, "toy")
    registry.load()
    assert sorted(registry.models) == ["a", "d"]
    assert registry.models["a"].description == "mine" and registry.models["a"].origin == str(user)
    assert sorted(registry.plugins["toy"].models) == ["a", "d"]

    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "missing.json"))
    with pytest.raises(plugins.RegistryError, match="file not found"):
        plugins.Registry().load()


# -- a real built-in model -------------------------------------------------------------------------


def test_builtin_glyphnet_round_trip_in_process(servers, tmp_path, monkeypatch):
    """push -> pull -> load of a built-in family (torch), in-process: HF_* are read at call time."""
    pytest.importorskip("torch")
    import zoo_core

    if "glyphnet" not in {f.name for f in zoo_core.list_families()}:
        pytest.skip("the glyphnet plugin is not installed")
    for key, value in servers.env(tmp_path, HF_TOKEN=TOKEN).items():
        if key.startswith(("HF_", "XDG_")):
            monkeypatch.setenv(key, value)
    model = zoo_core.build("glyphnet")
    saved = model.save(tmp_path / "run", extra={"eval": {"loss": 0.5}})
    url = push(saved, "me/glyphnet", message="built-in family")
    commit = servers.hub.commits[-1]["commit"]
    assert url.endswith(f"/me/glyphnet/commit/{commit}")
    folder, pulled = hub.pull("hf://me/glyphnet", progress=False)
    assert pulled == commit and "library_name: zoo" in (folder / "README.md").read_text()
    again = zoo_core.load("hf://me/glyphnet")
    np.testing.assert_array_equal(again.sample(4, seed=3), zoo_core.load_directory(saved).sample(4, seed=3))


# -- discovery: zoo list --hub ----------------------------------------------------------------------


def test_list_hub_finds_zoo_models_with_family_downloads_and_last_change(servers, tmp_path, monkeypatch):
    env = servers.env(tmp_path, HF_TOKEN=TOKEN)
    for name, seed in (("finder/glyphs-a", 21), ("finder/glyphs-b", 22)):
        zoo(env, "push", str(make_model(tmp_path / name, seed=seed)), "--repo", name)
    mirrors = servers.olah.mirrors
    other_card = b"---\nlibrary_name: diffusers\ntags:\n- glyphs\n---\n# not a zoo model\n"
    hub_server.make_model_repo(mirrors, "finder/glyphs-diffusers", {"README.md": other_card})
    for i in range(2):  # two machines pull glyphs-b; nobody pulls glyphs-a
        zoo(servers.env(tmp_path / f"machine{i}"), "pull", "-q", "hf://finder/glyphs-b")
    pulls = servers.hub.downloads["finder/glyphs-b"]  # requests of config.json, as the Hub counts downloads
    assert pulls >= 2 and "finder/glyphs-a" not in servers.hub.downloads

    rows = json.loads(zoo(env, "list", "--hub", "finder/*", "--json").stdout)
    assert [r["ref"] for r in rows] == ["hf://finder/glyphs-b", "hf://finder/glyphs-a"]  # most downloaded first
    assert [r["downloads"] for r in rows] == [pulls, 0] and {r["family"] for r in rows} == {"toy"}
    repo = hub_server.mirror_path(mirrors, "finder/glyphs-b")
    committed = subprocess.run(["git", "--git-dir", str(repo), "log", "-1", "--format=%ct", "main"],
                               capture_output=True, text=True, check=True).stdout.strip()
    from datetime import datetime, timezone

    stamp = datetime.fromtimestamp(int(committed), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert rows[0]["last_modified"] == stamp

    table = zoo(env, "list", "--hub", "*-a").stdout.splitlines()  # the pattern matches the name part too
    assert table[0].split() == ["REF", "FAMILY", "DOWNLOADS", "LAST", "CHANGE", "(UTC)"]
    assert [line.split()[:3] for line in table[1:]] == [["hf://finder/glyphs-a", "toy", "0"]]
    assert "no zoo models on" in zoo(env, "list", "--hub", "nothing-like-this*").stdout

    # in-process, HF_ENDPOINT set after huggingface_hub was imported still applies
    import zoo_core

    for key, value in servers.env(tmp_path).items():
        if key.startswith(("HF_", "XDG_")):
            monkeypatch.setenv(key, value)
    found = zoo_core.list_models("finder/glyphs-?", hub=True)
    assert [(m.repo_id, m.family, m.downloads) for m in found] == [("finder/glyphs-b", "toy", pulls),
                                                                   ("finder/glyphs-a", "toy", 0)]
    assert "zoo" in found[0].tags and "license:mit" in found[0].tags


def test_list_hub_offline_is_one_line(servers, tmp_path):
    offline = zoo(servers.env(tmp_path, HF_HUB_OFFLINE="1"), "list", "--hub", check=False)
    assert_one_line_error(offline, "HF_HUB_OFFLINE=1", "'zoo list' shows the catalog")
    dead = servers.env(tmp_path, HF_ENDPOINT=f"http://127.0.0.1:{hub_server.free_port()}")
    assert_one_line_error(zoo(dead, "list", "--hub", check=False), "cannot reach", "HF_ENDPOINT")


# -- cards: model-index, datasets, base_model, recipe, gallery -----------------------------------------


def write_run_manifest(directory: Path, **extra) -> dict:
    """A run manifest as the training runtime writes it (RUN/run.json), written by hand."""
    config = json.loads((directory / "config.json").read_text())["config"]
    run = {"family": "toy", "config": {**config, "lr": 0.002, "batch_size": 64}, "step": 1200, "steps": 1200,
           "data": {"source": "/home/someone/data/glyph-strokes.npz", "sha256": "c0ffee" + "0" * 58,
                    "examples": 50000},
           "seed": 7, "device": "cuda:0", "world_size": 2,
           "versions": {"zoo": "0.1.0", "plugin": "0.0.0", "python": "3.11.7", "torch": "2.3.1"},
           "started": "2026-11-30T10:00:00Z", "finished": "2026-11-30T10:42:00Z",
           "metrics": {"mean_intensity": 0.25, "heldout_nll": 1.5}, **extra}
    (directory / "run.json").write_text(json.dumps(run, indent=2))
    return run


def test_pushed_card_metadata_round_trips_through_the_hub(servers, tmp_path):
    from huggingface_hub import HfApi, ModelCard

    run_dir = make_model(tmp_path / "run", seed=31)
    run = write_run_manifest(run_dir, base_model="hf://someone/glyphs@v1")
    (run_dir / "eval.json").write_text(json.dumps({"model": str(run_dir), "pixel_std": 0.125}))
    env = servers.env(tmp_path, HF_TOKEN=TOKEN)
    zoo(env, "push", str(run_dir), "--repo", "cards/glyphs", "--eval")
    commit = servers.hub.commits[-1]
    assert {"samples/seed-1.png", "samples/seed-2.png", "samples/seed-3.png", "sample.png"} <= set(commit["files"])

    # what the Hub's listing returns as the card's metadata (parsed by the server from README.md)
    api = HfApi(endpoint=servers.hub.url)
    info = next(iter(api.list_models(search="cards/glyphs", cardData=True)))
    meta = info.card_data.to_dict()
    (tmp_path / "card-metadata.json").write_text(json.dumps(meta, indent=2))  # shown in the closing note
    assert meta["library_name"] == "zoo" and meta["family"] == "toy"
    assert meta["datasets"] == ["glyph-strokes.npz"] and meta["base_model"] == "someone/glyphs"
    assert "/home/someone" not in json.dumps(meta)  # a local path is published by its name only
    recipe = meta["recipe"]
    assert (recipe["steps"], recipe["lr"], recipe["batch"], recipe["world_size"], recipe["device"]) == \
        (1200, 0.002, 64, 2, "cuda:0")
    assert recipe["versions"] == run["versions"] and recipe["data"]["examples"] == 50000
    assert [w["output"]["url"] for w in meta["widget"]] == ["sample.png", "samples/seed-1.png", "samples/seed-2.png",
                                                            "samples/seed-3.png"]

    # model-index: live --eval figures win over eval.json, which wins over the run's metrics
    model = Toy(json.loads((run_dir / "config.json").read_text())["config"])
    live = model.evaluate(seed=0)
    repo = hub_server.mirror_path(servers.olah.mirrors, "cards/glyphs")
    readme = subprocess.run(["git", "--git-dir", str(repo), "show", f"{commit['commit']}:README.md"],
                            capture_output=True, text=True, check=True).stdout
    card = ModelCard(readme)
    figures = {r.metric_type: r.metric_value for r in card.data.eval_results}
    assert figures == {"mean_intensity": live["mean_intensity"], "pixel_std": live["pixel_std"], "images": 64,
                       "heldout_nll": 1.5}
    result = card.data.eval_results[0]
    assert (result.task_type, result.dataset_name, result.dataset_split) == (
        "unconditional-image-generation", "held-out split of glyph-strokes.npz", "test")
    assert "| world_size | 2 |" in readme and "Trained from [someone/glyphs]" in readme

    # each gallery image is the grid of its seed
    from PIL import Image

    from zoo_core.media.images import tile

    png = subprocess.run(["git", "--git-dir", str(repo), "show", f"{commit['commit']}:samples/seed-2.png"],
                         capture_output=True, check=True).stdout
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(png))), tile(model.sample(16, seed=2))[..., 0])


def test_bad_run_manifest_is_one_line(servers, tmp_path):
    run_dir = make_model(tmp_path / "run", seed=32)
    (run_dir / "run.json").write_text("{not json")
    env = servers.env(tmp_path, HF_TOKEN=TOKEN)
    assert_one_line_error(zoo(env, "push", str(run_dir), "--repo", "cards/bad", check=False), "run.json",
                          "not valid JSON")
