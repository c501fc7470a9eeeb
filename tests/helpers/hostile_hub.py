"""A hostile Hugging Face Hub endpoint on 127.0.0.1, for the bad-input corpus and the hostile-endpoint tests.

It speaks just enough of the Hub's read API for ``huggingface_hub.snapshot_download``
(``/api/models/<repo>/revision/<rev>``, ``.../tree/<rev>``, ``/<repo>/resolve/<rev>/<file>``) and
misbehaves per repository name:

* ``evil/any``: answers every revision, ``../../x`` included, with one valid commit and a
  well-formed model (a real endpoint that trusts the client's revision);
* ``evil/badsha``: the commit id it answers is a path (``../../../<escape>``);
* ``evil/garbage``: model info that is not JSON;
* ``evil/deep``: a ``config.json`` nested 100 000 levels deep;
* ``evil/zero``: a ``model.safetensors`` whose header claims 2**62 bytes;
* ``evil/nosha``: a ``config.json`` whose ``weights_sha256`` is the number 12345.

Every request is logged in :attr:`HostileHub.requests`.
"""

from __future__ import annotations

import hashlib
import json
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

COMMIT = "c0ffee" + "0" * 34


def _safetensors(values: bytes = b"\0" * 16) -> bytes:
    header = json.dumps({"decoder.weight": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}).encode()
    return struct.pack("<Q", len(header)) + header + values


def _config(sha: object) -> bytes:
    return json.dumps({"format": "zoo-model/1", "family": "toy", "config": {}, "weights_sha256": sha}).encode()


class HostileHub:
    """``with HostileHub(escape_dir) as hub: ... hub.url ...``; ``escape_dir`` is where a traversal would land."""

    def __init__(self, escape: Path, model: dict[str, bytes] | None = None) -> None:
        self.escape = Path(escape)
        self.model = model  # the files of evil/any (default: a tiny well-formed model)
        self.requests: list[str] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                pass

            def do_HEAD(self) -> None:  # noqa: N802
                self._answer(head=True)

            def do_GET(self) -> None:  # noqa: N802
                self._answer(head=False)

            def _send(self, status: int, body: bytes, headers: dict | None = None, head: bool = False) -> None:
                self.send_response(status)
                for key, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
                    self.send_header(key, value)
                self.end_headers()
                if not head:
                    self.wfile.write(body)

            def _answer(self, head: bool) -> None:
                path = unquote(urlsplit(self.path).path)
                hub.requests.append(f"{self.command} {path}")
                parts = path.strip("/").split("/")
                if parts[:2] == ["api", "models"] and len(parts) >= 4:
                    repo = "/".join(parts[2:4])
                    rest = parts[4:]
                    files = hub.files(repo)
                    if repo == "evil/garbage":
                        return self._send(200, b"<html>not json", {"Content-Type": "application/json"}, head)
                    if rest[:1] == ["tree"]:
                        listing = [{"type": "file", "path": name, "size": len(data),
                                    "oid": hashlib.sha1(data).hexdigest()} for name, data in files.items()]
                        return self._send(200, json.dumps(listing).encode(), {"Content-Type": "application/json"},
                                          head)
                    sha = f"../../../../../../../..{hub.escape}/by-sha" if repo == "evil/badsha" else COMMIT
                    info = {"id": repo, "modelId": repo, "sha": sha, "private": False,
                            "siblings": [{"rfilename": name} for name in files]}
                    return self._send(200, json.dumps(info).encode(), {"Content-Type": "application/json"}, head)
                if "resolve" in parts:
                    at = parts.index("resolve")
                    repo, name = "/".join(parts[:at]), "/".join(parts[at + 2:])
                    data = hub.files(repo).get(name)
                    if data is None:
                        return self._send(404, b"{}", {"X-Error-Code": "EntryNotFound"}, head)
                    etag = '"' + hashlib.sha1(data).hexdigest() + '"'
                    return self._send(200, data, {"X-Repo-Commit": COMMIT, "ETag": etag,
                                                  "Content-Type": "application/octet-stream"}, head)
                return self._send(404, b"{}", {"X-Error-Code": "RepoNotFound"}, head)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def files(self, repo: str) -> dict[str, bytes]:
        """The files the endpoint serves for ``repo``."""
        weights = _safetensors()
        sha = hashlib.sha256(weights).hexdigest()
        if repo == "evil/deep":
            return {"config.json": b"[" * 100_000 + b"]" * 100_000, "model.safetensors": weights}
        if repo == "evil/zero":
            header = b'{"decoder.weight":{"dtype":"F32","shape":[1073741824,1073741824],"data_offsets":[0,4611686018427387904]}}'
            return {"config.json": _config(None), "model.safetensors": struct.pack("<Q", len(header)) + header}
        if repo == "evil/nosha":
            return {"config.json": _config(12345), "model.safetensors": weights}
        if repo == "evil/any" and self.model is not None:
            return dict(self.model)
        return {"config.json": _config(sha), "model.safetensors": weights}

    def __enter__(self) -> "HostileHub":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
