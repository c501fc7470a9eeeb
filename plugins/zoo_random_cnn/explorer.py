"""``zoo random-cnn-grid --serve``: the notebook's two sliders as a small local web page.

The notebook's ``single_show(compression, sophistication)`` draws one image for a compression
(the fraction ``(soph + noise) / uncompressed``) and a sophistication share (``soph / (soph +
noise)``):

    soph  = int(sophistication * compression * uncompressed)
    noise = int(compression * uncompressed - soph + 0.5)

This module serves a page with those two sliders (and the input seed) on ``127.0.0.1`` with the
standard library's :mod:`http.server`: ``GET /`` is the page, ``GET /image.png?compression=..&
sophistication=..&seed=..`` the image (its budgets and architecture in ``X-Random-Cnn-*``
headers), or status 422 and a one-line reason when the budgets fit no architecture. The server
is single-threaded (one Keras forward at a time); the page asks again only when the last answer
came, always for the sliders' latest position.
"""

from __future__ import annotations

import io
import math
from collections import OrderedDict
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlsplit

from zoo_core.config import MAX_SEED

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>zoo random-cnn explorer</title>
<style>
 body { font-family: sans-serif; margin: 1.5em; }
 label { display: block; margin: .6em 0; }
 input[type=range] { width: 22em; vertical-align: middle; }
 img { image-rendering: pixelated; border: 1px solid #888; width: __VIEW__px; height: __VIEW__px; }
 #status { font-family: monospace; white-space: pre; margin: .6em 0; }
</style></head>
<body>
<h1>random CNN: __SIZE__x__SIZE__x__CHANNELS__, __TOTAL__ uncompressed bits</h1>
<label>compression (soph + noise) / uncompressed
 <input id="compression" type="range" min="0.0001" max="1" step="0.0001" value="__COMPRESSION__">
 <output id="compression-value">__COMPRESSION__</output></label>
<label>sophistication share soph / (soph + noise)
 <input id="sophistication" type="range" min="0.0001" max="0.9999" step="0.0001" value="__SOPHISTICATION__">
 <output id="sophistication-value">__SOPHISTICATION__</output></label>
<label>input seed <input id="seed" type="number" min="0" value="0" style="width:6em"></label>
<div id="status">loading...</div>
<img id="image" alt="random CNN sample" data-version="0">
<script>
const ids = ["compression", "sophistication", "seed"];
const image = document.getElementById("image");
const status = document.getElementById("status");
let busy = false, again = false;
function query() {
  return ids.map(id => id + "=" + encodeURIComponent(document.getElementById(id).value)).join("&");
}
async function redraw() {
  if (busy) { again = true; return; }
  busy = true;
  do {
    again = false;
    for (const id of ["compression", "sophistication"]) {
      document.getElementById(id + "-value").textContent = document.getElementById(id).value;
    }
    const q = query();
    try {
      const response = await fetch("image.png?" + q);
      if (response.ok) {
        const blob = await response.blob();
        const old = image.src;
        image.src = URL.createObjectURL(blob);
        if (old) URL.revokeObjectURL(old);
        await image.decode();
        image.dataset.query = q;
        status.textContent = response.headers.get("X-Random-Cnn-Budget") + "\\n" +
                             response.headers.get("X-Random-Cnn-Architecture");
      } else {
        status.textContent = "no image: " + await response.text();
      }
    } catch (error) {
      status.textContent = "error: " + error;
    }
    image.dataset.version = String(Number(image.dataset.version) + 1);
  } while (again);
  busy = false;
}
for (const id of ids) document.getElementById(id).addEventListener("input", redraw);
redraw();
</script>
</body></html>
"""


def budgets(compression: float, sophistication: float, uncompressed: int) -> tuple[int, int]:
    """The notebook's ``single_show`` arithmetic: ``(soph, noise)`` bits for the two sliders."""
    soph = int(sophistication * compression * uncompressed)
    noise = int(compression * uncompressed - soph + 0.5)
    return soph, noise


class Explorer:
    """Draws one image per (compression, sophistication, input seed), caching recent models."""

    def __init__(self, size: int = 256, channels: int = 1, seed: int = 0, cache: int = 8) -> None:
        from zoo_random_cnn.architecture import uncompressed_bits

        self.size, self.channels, self.seed = size, channels, seed
        self.uncompressed = uncompressed_bits(size, size, channels)
        self._models: OrderedDict[tuple[int, int], object] = OrderedDict()
        self._cache = cache

    def model(self, soph: int, noise: int):
        """The model for ``soph`` and ``noise`` bits (weights seed :attr:`seed`); ConfigError if none fits."""
        import zoo_core

        key = (soph, noise)
        if key in self._models:
            self._models.move_to_end(key)
            return self._models[key]
        model = zoo_core.build("random-cnn", height=self.size, width=self.size, channels=self.channels,
                               soph=soph / self.uncompressed, noise=noise / self.uncompressed, seed=self.seed)
        self._models[key] = model
        while len(self._models) > self._cache:
            self._models.popitem(last=False)
        return model

    def image_png(self, compression: float, sophistication: float, input_seed: int) -> tuple[bytes, dict]:
        """PNG bytes of one sample and the headers describing it."""
        from PIL import Image

        soph, noise = budgets(compression, sophistication, self.uncompressed)
        model = self.model(soph, noise)
        image = model.sample(1, seed=input_seed)[0]
        pil = Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image)
        buffer = io.BytesIO()
        pil.save(buffer, format="PNG")
        headers = {
            "X-Random-Cnn-Budget": f"soph {soph} + noise {noise} = {soph + noise} of {self.uncompressed} bits",
            "X-Random-Cnn-Architecture": model.architecture.describe(),
        }
        return buffer.getvalue(), headers


def _number(query: dict, key: str, low: float, high: float, default: float) -> float:
    values = query.get(key)
    if not values:
        return default
    value = float(values[0])
    if not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"{key} must be within [{low}, {high}], got {values[0]!r}")
    return value


def make_server(explorer: Explorer, port: int = 0, quiet: bool = True) -> HTTPServer:
    """An :class:`HTTPServer` bound to ``127.0.0.1:port`` (0: any free port) serving ``explorer``."""
    from zoo_core.errors import ZooError

    side = explorer.size
    page = (PAGE.replace("__SIZE__", str(side)).replace("__CHANNELS__", str(explorer.channels))
            .replace("__TOTAL__", str(explorer.uncompressed)).replace("__VIEW__", str(max(256, side)))
            .replace("__COMPRESSION__", "0.3125").replace("__SOPHISTICATION__", "0.8")).encode()

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: bytes, kind: str, headers: dict | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # http.server's name
            url = urlsplit(self.path)
            if url.path in ("/", "/index.html"):
                self._send(HTTPStatus.OK, page, "text/html; charset=utf-8")
                return
            if url.path != "/image.png":
                self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain; charset=utf-8")
                return
            query = parse_qs(url.query)
            try:
                compression = _number(query, "compression", 0.0, 1.0, 0.3125)
                sophistication = _number(query, "sophistication", 0.0, 1.0, 0.8)
                input_seed = int(_number(query, "seed", 0, MAX_SEED, 0))
                body, headers = explorer.image_png(compression, sophistication, input_seed)
            except (ValueError, ZooError) as exc:
                self._send(HTTPStatus.UNPROCESSABLE_ENTITY, str(exc).encode(), "text/plain; charset=utf-8")
                return
            self._send(HTTPStatus.OK, body, "image/png", headers)

        def log_message(self, format: str, *args) -> None:  # http.server's signature
            if not quiet:
                super().log_message(format, *args)

    return HTTPServer(("127.0.0.1", port), Handler)


def describe(server: HTTPServer) -> str:
    """The URL the server answers on."""
    host, port = server.server_address[:2]
    assert isinstance(host, str)  # an AF_INET server (make_server binds 127.0.0.1)
    return f"http://{host}:{port}/"


__all__ = ["Explorer", "budgets", "describe", "make_server", "PAGE"]
