"""Real Hugging Face Hub servers on 127.0.0.1 for the Hub tests and the Hub benchmark.

* :class:`Olah` runs the `olah <https://pypi.org/project/olah/>`_ mirror as a subprocess in
  offline mode: it serves the Hub's read API (``/api/models/...``, ``/<repo>/resolve/...``) from
  plain git repositories in ``mirrors/models/<org>/<repo>`` and logs every request, which lets
  tests count downloads.
* :class:`HubServer` is a small stdlib HTTP server implementing the Hub's write endpoints
  (create repo, create branch, preupload, NDJSON commit) well enough for
  ``HfApi.create_repo`` + ``HfApi.upload_folder``. Each commit becomes a real git commit in the
  same mirrors folder, so what is pushed is pulled back through olah. It checks bearer tokens
  like the Hub (401 "Invalid credentials in Authorization header") and forwards every other
  request to olah, so one ``HF_ENDPOINT`` serves pulls and pushes.

It also answers the Hub's model listing, ``GET /api/models`` (``HfApi.list_models``: ``filter``,
``search``, ``author``, ``sort``, ``direction``, ``limit``, ``expand``, ``cardData``, ``full``),
from the ``README.md`` metadata of each repo's ``main``, and counts downloads as the Hub does for
libraries without a download rule of their own: every GET or HEAD of a repo's ``config.json``
(https://huggingface.co/docs/hub/models-download-stats).

Files are stored as regular git blobs: the preupload answer is ``uploadMode: regular`` for every
file (the Hub decides this per file; this server has no LFS/Xet storage).

Also :func:`install_test_plugin`, which installs ``tests/helpers/toyplugin.py`` (the ``toy`` family) as a
real ``zoo.plugins`` entry point (a ``.dist-info`` folder on ``PYTHONPATH``) for CLI subprocesses.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
GIT_ENV = {"GIT_AUTHOR_NAME": "zoo tests", "GIT_AUTHOR_EMAIL": "tests@zoo.invalid",
           "GIT_COMMITTER_NAME": "zoo tests", "GIT_COMMITTER_EMAIL": "tests@zoo.invalid"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- git repositories in olah's mirrors folder ---------------------------------------------------


def _git(repo: Path, *args: str, data: bytes | None = None, env: dict | None = None) -> str:
    full_env = {**os.environ, **GIT_ENV, "GIT_DIR": str(repo), **(env or {})}
    result = subprocess.run(["git", *args], input=data, capture_output=True, env=full_env, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout.decode().strip()


def mirror_path(mirrors: Path, repo_id: str) -> Path:
    """Where olah looks for the git repository of model ``repo_id``."""
    return mirrors / "models" / repo_id


def init_repo(mirrors: Path, repo_id: str) -> Path:
    """Create an empty bare git repository for ``repo_id`` (default branch ``main``)."""
    repo = mirror_path(mirrors, repo_id)
    repo.mkdir(parents=True, exist_ok=False)
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(repo)], check=True, capture_output=True)
    return repo


def head(repo: Path, branch: str) -> str | None:
    """The commit ``branch`` points to, or None."""
    try:
        return _git(repo, "rev-parse", "--verify", "-q", f"refs/heads/{branch}^{{commit}}")
    except RuntimeError:
        return None


def lfs_pointer(repo: Path, data: bytes) -> bytes:
    """Store ``data`` as a git-LFS object of ``repo`` and return its pointer file.

    olah reads LFS objects from ``<repo>/.git/lfs/objects/aa/bb/<sha256>`` (its path for them,
    also for a bare repository), as the Hub stores large files out of git.
    """
    import hashlib

    oid = hashlib.sha256(data).hexdigest()
    target = repo / ".git" / "lfs" / "objects" / oid[:2] / oid[2:4] / oid
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {len(data)}\n".encode()


def commit_files(repo: Path, branch: str, files: dict[str, bytes | None], message: str,
                 parent: str | None = None, lfs: tuple[str, ...] = ()) -> str:
    """Commit ``files`` (path -> bytes, or None to delete) on top of ``branch``; return the commit.

    Paths in ``lfs`` are stored as git-LFS pointers plus objects, like the Hub stores weights.
    """
    parent = parent or head(repo, branch)
    with tempfile.TemporaryDirectory() as tmp:
        env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
        if parent:
            _git(repo, "read-tree", parent, env=env)
        for path, data in files.items():
            if data is None:
                _git(repo, "update-index", "--force-remove", "--", path, env=env)
            else:
                if path in lfs:
                    data = lfs_pointer(repo, data)
                blob = _git(repo, "hash-object", "-w", "--stdin", data=data)
                _git(repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
        tree = _git(repo, "write-tree", env=env)
    commit = _git(repo, "commit-tree", tree, *(["-p", parent] if parent else []), "-m", message)
    _git(repo, "update-ref", f"refs/heads/{branch}", commit, *([parent] if parent else []))
    return commit


def make_model_repo(mirrors: Path, repo_id: str, files: dict[str, bytes], tags: tuple[str, ...] = (),
                    message: str = "add model", lfs: tuple[str, ...] = ()) -> str:
    """A new repo with one commit of ``files`` on ``main`` and lightweight ``tags``; return the commit."""
    repo = init_repo(mirrors, repo_id)
    commit = commit_files(repo, "main", files, message, lfs=lfs)
    for tag in tags:
        _git(repo, "update-ref", f"refs/tags/{tag}", commit)
    return commit


# -- olah --------------------------------------------------------------------------------------


class Olah:
    """An olah mirror in offline mode, serving ``root/mirrors`` on a free loopback port."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.mirrors = self.root / "mirrors"
        self.mirrors.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = self.root / "olah.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> "Olah":
        """Start olah and wait until it answers HTTP."""
        config = self.root / "olah.toml"
        config.write_text(
            "[basic]\n"
            f'host = "127.0.0.1"\nport = {self.port}\n'
            f'repos-path = "{self.root / "repos"}"\n'
            f'mirrors-path = ["{self.mirrors}"]\n'
            "metadata-cache-ttl = 0\n"
            "[accessibility]\noffline = true\n", encoding="utf-8")
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "olah.server", "-c", str(config),
                                          "--log-path", str(self.root / "logs")],
                                         cwd=self.root, stdout=log, stderr=subprocess.STDOUT)
        from helpers.slowness import scaled

        deadline = time.monotonic() + scaled(timeout)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"olah exited with {self.proc.returncode}:\n{self.log.read_text()[-2000:]}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/api/models/zoo-probe/none/revision/main")
                conn.getresponse().read()
                conn.close()
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"olah did not answer within {timeout} s:\n{self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        """Terminate olah."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def requests(self, method: str, path_part: str) -> int:
        """How many requests olah logged with ``method`` and a path containing ``path_part``."""
        pattern = re.compile(r'"' + re.escape(method) + r' (\S+) HTTP/')
        return sum(1 for m in pattern.finditer(self.log.read_text(errors="replace")) if path_part in m.group(1))


# -- the write API -----------------------------------------------------------------------------

_REPO = r"(?P<repo>[^/]+/[^/]+)"
_ROUTES = [
    ("POST", re.compile(r"^/api/repos/create$"), "create_repo"),
    ("POST", re.compile(r"^/api/validate-yaml$"), "validate_yaml"),
    ("POST", re.compile(rf"^/api/models/{_REPO}/preupload/(?P<rev>.+)$"), "preupload"),
    ("POST", re.compile(rf"^/api/models/{_REPO}/commit/(?P<rev>.+)$"), "commit"),
    ("POST", re.compile(rf"^/api/models/{_REPO}/branch/(?P<rev>.+)$"), "branch"),
]


class HubServer:
    """The Hub's write endpoints over git repos in ``mirrors``; other requests go to ``upstream``.

    :param tokens: accepted bearer tokens; writes need one, reads with a wrong one get 401.
    """

    def __init__(self, mirrors: Path, upstream: str | None = None, tokens: tuple[str, ...] = ("hf_test_write",),
                 gated: tuple[str, ...] = ()):
        self.mirrors = Path(mirrors)
        self.gated = set(gated)  # repos whose reads answer 403 GatedRepo, as for a user who did not accept
        self.upstream = urllib.parse.urlsplit(upstream) if upstream else None
        self.tokens = set(tokens)
        self.lock = threading.Lock()
        self.commits: list[dict] = []  # what was committed, for tests
        self.downloads: dict[str, int] = {}  # repo id -> GET/HEAD requests of its config.json
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):  # keep pytest output clean
                pass

            def do_GET(self):
                server._handle(self, "GET")

            def do_HEAD(self):
                server._handle(self, "HEAD")

            def do_POST(self):
                server._handle(self, "POST")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> "HubServer":
        """Serve in a background thread."""
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- plumbing ------------------------------------------------------------------------------

    @staticmethod
    def _reply(handler, status: int, body: dict | bytes, headers: dict | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        handler.send_response(status)
        if not isinstance(body, bytes):
            handler.send_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(data)

    def _error(self, handler, status: int, message: str, code: str | None = None) -> None:
        headers = {"X-Error-Message": message}
        if code:
            headers["X-Error-Code"] = code
        self._reply(handler, status, {"error": message}, headers)

    def _handle(self, handler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        auth = handler.headers.get("Authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        if token is not None and token not in self.tokens:
            return self._error(handler, 401, "Invalid credentials in Authorization header")
        path = urllib.parse.urlsplit(handler.path).path
        if method == "GET" and path == "/api/models":
            return self.list_models(handler, urllib.parse.urlsplit(handler.path).query)
        for route_method, pattern, name in _ROUTES:
            match = pattern.match(path)
            if match and route_method == method:
                if token is None:
                    return self._error(handler, 401, "Invalid credentials in Authorization header")
                groups = {k: urllib.parse.unquote(v) for k, v in match.groupdict().items()}
                try:
                    with self.lock:
                        return getattr(self, name)(handler, body, **groups)
                except (ValueError, KeyError, RuntimeError) as exc:
                    return self._error(handler, 400, f"bad request: {exc}")
        if any(f"/{repo}/" in path + "/" for repo in self.gated):
            return self._error(handler, 403, "Access to this model is restricted; you must accept the conditions",
                               "GatedRepo")
        download = re.match(r"^/([^/]+/[^/]+)/resolve/[^/]+/config\.json$", path)
        if method in ("GET", "HEAD") and download:
            with self.lock:
                self.downloads[download.group(1)] = self.downloads.get(download.group(1), 0) + 1
        self._forward(handler, method, body)

    def _forward(self, handler, method: str, body: bytes) -> None:
        if self.upstream is None:
            return self._error(handler, 404, "not found")
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=60)
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in ("host", "connection")}
        conn.request(method, handler.path, body=body or None, headers=headers)
        response = conn.getresponse()
        data = response.read()
        conn.close()
        handler.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                handler.send_header(key, value)
        handler.send_header("Content-Length", response.getheader("Content-Length") if method == "HEAD"
                            and response.getheader("Content-Length") else str(len(data)))
        handler.end_headers()
        if method != "HEAD":
            handler.wfile.write(data)

    def _repo(self, repo_id: str) -> Path | None:
        repo = mirror_path(self.mirrors, repo_id)
        return repo if repo.is_dir() else None

    # -- endpoints -----------------------------------------------------------------------------

    def create_repo(self, handler, body: bytes) -> None:
        payload = json.loads(body or b"{}")
        if payload.get("type", "model") != "model":
            raise ValueError("this test Hub stores model repos only")
        name, org = payload["name"], payload.get("organization")
        if not org:
            raise ValueError("a namespace (org/name) is required")
        repo_id = f"{org}/{name}"
        url = f"{self.url}/{repo_id}"
        if self._repo(repo_id):
            return self._reply(handler, 409, {"error": "You already created this model repo", "url": url},
                               {"X-Error-Message": "You already created this model repo"})
        repo = init_repo(self.mirrors, repo_id)
        commit_files(repo, "main", {".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"},
                     "initial commit")
        self._reply(handler, 200, {"url": url, "name": repo_id, "id": repo_id})

    def validate_yaml(self, handler, body: bytes) -> None:
        import yaml  # PyYAML, a dependency of olah

        content = json.loads(body).get("content", "")
        match = re.match(r"^---\n(.*?)\n---\n", content, flags=re.S)
        try:
            meta = yaml.safe_load(match.group(1)) if match else None
        except yaml.YAMLError as exc:
            return self._reply(handler, 400, {"errors": [{"message": f"invalid YAML: {exc}"}]})
        if match and not isinstance(meta, dict):
            return self._reply(handler, 400, {"errors": [{"message": "metadata must be a YAML mapping"}]})
        problems = [f"'{k}' must be a string" for k in ("license", "library_name")
                    if meta and k in meta and not isinstance(meta[k], str)]
        if meta and not isinstance(meta.get("tags", []), list):
            problems.append("'tags' must be a list")
        if problems:
            return self._reply(handler, 400, {"errors": [{"message": p} for p in problems]})
        warnings = [] if meta else [{"message": "empty or missing yaml metadata in repo card"}]
        self._reply(handler, 200, {"errors": [], "warnings": warnings})

    def _model_item(self, repo: Path, repo_id: str) -> dict | None:
        """What the Hub's listing says about one repo (all fields), from its ``main`` branch."""
        import yaml  # PyYAML, a dependency of olah

        commit = head(repo, "main")
        if commit is None:
            return None
        try:
            readme = _git(repo, "show", f"{commit}:README.md")
        except RuntimeError:
            readme = ""
        match = re.match(r"^---\n(.*?)\n---\n", readme + "\n", flags=re.S)
        try:
            meta = yaml.safe_load(match.group(1)) if match else {}
        except yaml.YAMLError:
            meta = {}
        meta = meta if isinstance(meta, dict) else {}
        library = meta.get("library_name")
        tags = ([library] if library else []) + [str(t) for t in meta.get("tags") or [] if t != library]
        if meta.get("license"):
            tags.append(f"license:{meta['license']}")
        datasets = meta.get("datasets") or []
        tags += [f"dataset:{d}" for d in ([datasets] if isinstance(datasets, str) else datasets)]
        if meta.get("base_model"):
            tags.append(f"base_model:{meta['base_model']}")
        stamp = {"TZ": "UTC"}
        fmt = "--date=format-local:%Y-%m-%dT%H:%M:%S.000Z"
        return {"_id": commit[:24], "id": repo_id, "modelId": repo_id, "author": repo_id.split("/")[0],
                "sha": commit, "private": False, "likes": 0, "downloads": self.downloads.get(repo_id, 0),
                "lastModified": _git(repo, "log", "-1", fmt, "--format=%cd", commit, env=stamp),
                "createdAt": _git(repo, "log", "--reverse", fmt, "--format=%cd", commit, env=stamp).splitlines()[0],
                "library_name": library, "tags": tags, "pipeline_tag": meta.get("pipeline_tag"), "cardData": meta}

    def list_models(self, handler, query: str) -> None:
        """``GET /api/models``: filter (every value a tag), search (substring of the id), author, sort, limit."""
        params = urllib.parse.parse_qs(query)
        one = lambda key, default=None: params.get(key, [default])[0]  # noqa: E731
        root = self.mirrors / "models"
        items = []
        with self.lock:
            for repo in sorted(root.glob("*/*")) if root.is_dir() else []:
                item = self._model_item(repo, f"{repo.parent.name}/{repo.name}")
                if item is not None:
                    items.append(item)
        filters = [f for value in params.get("filter", []) for f in value.split(",") if f]
        items = [i for i in items if all(f in i["tags"] for f in filters)]
        if one("search"):
            items = [i for i in items if one("search").lower() in i["id"].lower()]
        if one("author"):
            items = [i for i in items if i["author"] == one("author")]
        sort = one("sort")
        if sort:
            if sort not in ("downloads", "likes", "lastModified", "createdAt", "id"):
                return self._error(handler, 400, f"invalid sort '{sort}'")
            items.sort(key=lambda i: i[sort], reverse=one("direction", "-1") == "-1")
        if one("limit"):
            items = items[:int(one("limit"))]
        expand = params.get("expand")
        if expand:
            items = [{"_id": i["_id"], "id": i["id"], **{k: i[k] for k in expand if k in i}} for i in items]
        elif not (one("cardData") or one("full")):
            items = [{k: v for k, v in i.items() if k != "cardData"} for i in items]
        self._reply(handler, 200, items)

    def branch(self, handler, body: bytes, repo: str, rev: str) -> None:
        path = self._repo(repo)
        if path is None:
            return self._error(handler, 404, "Repository not found", "RepoNotFound")
        if head(path, rev):
            return self._error(handler, 409, f"Reference already exists: refs/heads/{rev}")
        payload = json.loads(body or b"{}")
        start = payload.get("startingPoint") or head(path, "main")
        _git(path, "update-ref", f"refs/heads/{rev}", _git(path, "rev-parse", "--verify", f"{start}^{{commit}}"))
        self._reply(handler, 200, {})

    def preupload(self, handler, body: bytes, repo: str, rev: str) -> None:
        path = self._repo(repo)
        if path is None:
            return self._error(handler, 404, "Repository not found", "RepoNotFound")
        if not head(path, rev):
            return self._error(handler, 404, f"Invalid rev id: {rev}", "RevisionNotFound")
        files = json.loads(body)["files"]
        self._reply(handler, 200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
                                              "oid": None} for f in files], "commitOid": head(path, rev)})

    def commit(self, handler, body: bytes, repo: str, rev: str) -> None:
        path = self._repo(repo)
        if path is None:
            return self._error(handler, 404, "Repository not found", "RepoNotFound")
        parent = head(path, rev)
        if parent is None:
            return self._error(handler, 404, f"Invalid rev id: {rev}", "RevisionNotFound")
        summary, files = "", {}
        for line in body.decode().splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            key, value = item["key"], item["value"]
            if key == "header":
                summary = value.get("summary") or "commit"
                if value.get("parentCommit") and value["parentCommit"] != parent:
                    return self._error(handler, 412, "A commit has happened since. Please refresh and try again.")
            elif key == "file":
                if value.get("encoding", "base64") != "base64":
                    raise ValueError(f"unsupported encoding {value.get('encoding')}")
                files[value["path"]] = base64.b64decode(value["content"])
            elif key == "deletedFile":
                files[value["path"]] = None
            else:
                raise ValueError(f"unsupported commit operation '{key}' (this test Hub has no LFS/Xet storage)")
        commit = commit_files(path, rev, files, summary, parent=parent)
        self.commits.append({"repo": repo, "revision": rev, "commit": commit, "files": sorted(files)})
        self._reply(handler, 200, {"success": True, "commitOid": commit,
                                   "commitUrl": f"{self.url}/{repo}/commit/{commit}", "pullRequestUrl": None})


# -- the test plugin ---------------------------------------------------------------------------


def install_test_plugin(site: Path) -> Path:
    """Install ``toyplugin`` as the ``zoo.plugins`` entry point ``toy`` in ``site`` (put it on PYTHONPATH,
    with ``ZOO_PLUGINS=toy``); returns ``site``."""
    from helpers.pluginenv import write_dist

    source = (HERE / "toyplugin.py").read_text(encoding="utf-8")
    write_dist(site, "zoo-toy", {"toy": "toyplugin"}, {"toyplugin.py": source}, version="0.0.0")
    return site


# -- a local Hub sandbox for people ------------------------------------------------------------


def sandbox(root: Path, token: str = "hf_sandbox_write") -> None:
    """Serve olah + the write API from ``root`` until Ctrl-C, and print how to use it.

    ``python tests/helpers/hub_server.py [DIR]`` (with zoo's test extra installed, which brings olah):
    try ``zoo push`` and ``zoo pull`` without an account or a network; repos live as git repos in
    ``DIR/olah/mirrors/models/<org>/<repo>``.
    """
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM):  # also when started in the background (SIGINT ignored there)
        signal.signal(sig, signal.default_int_handler)
    olah = Olah(root / "olah").start()
    hub = HubServer(olah.mirrors, upstream=olah.url, tokens=(token,)).start()
    print(f"a local Hub at {hub.url} (repos in {olah.mirrors / 'models'}); in another shell:\n"
          f"  export HF_ENDPOINT={hub.url} HF_TOKEN={token} HF_HOME={root / 'hf-home'}\n"
          "  zoo train glyphnet-32 -o runs/mine --steps 50\n"
          "  zoo push runs/mine --repo me/mine\n"
          "  zoo pull hf://me/mine && zoo info hf://me/mine --card\n"
          "Ctrl-C stops it.", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        hub.stop()
        olah.stop()


if __name__ == "__main__":  # pragma: no cover - the sandbox, started by hand
    sys.path.insert(0, str(HERE.parent))  # 'helpers' as a package, as under pytest
    import tempfile

    sandbox(Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="zoo-hub-")))
