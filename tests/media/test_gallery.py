"""``zoo gallery``: a static page of the installed models, opened in a real headless Chromium."""

from __future__ import annotations

import json

import numpy as np
import pytest

import zoo_core
from helpers.browser import inspect_page
from helpers.clitools import assert_one_line_error, run_zoo

pytestmark = pytest.mark.slow
MODELS = ["glyph-cnn", "glyphnet-32", "random-cnn-128-rgb"]  # both frameworks, with and without weights


@pytest.fixture(scope="module")
def gallery(tmp_path_factory):
    for name in MODELS:
        missing = zoo_core.get_family(zoo_core.get_entry(name).family).missing_requirements()
        if missing:
            pytest.skip(f"{name} needs {missing}")
    out = tmp_path_factory.mktemp("gallery") / "site"
    proc = run_zoo("gallery", "-o", str(out), "glyph-cnn", "glyphnet-3*", "random-cnn-128-rgb",
                   env={"OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"wrote {out / 'index.html'}"
    return out


def test_gallery_files_and_facts(gallery):
    from PIL import Image

    from zoo_core.media.images import tile

    data = json.loads((gallery / "gallery.json").read_text())
    records = {r["name"]: r for r in data["models"]}
    assert list(records) == MODELS
    for name, record in records.items():
        entry = zoo_core.get_entry(name)
        assert record["sample_sha256"] == entry.sample_sha256 and record["golden"] == "ok"
        assert record["family"] == entry.family and record["image"] == f"images/{name}.png"
    assert records["glyphnet-32"]["eval"]["cosine_channel"] > 0.8  # the shipped model's own figure
    assert records["glyph-cnn"]["eval"]["accuracy"] > 0.95
    assert records["random-cnn-128-rgb"]["eval"]  # its information measure (zoo eval)
    assert records["random-cnn-128-rgb"]["weights_source"] is None
    grid = np.asarray(Image.open(gallery / "images" / "glyphnet-32.png"))
    np.testing.assert_array_equal(grid, tile(zoo_core.load("glyphnet-32").sample(16, seed=0))[..., 0])
    page = (gallery / "index.html").read_text()
    assert "http://" not in page and "https://" not in page and "<script" not in page  # works offline, no script
    assert "cosine_channel" in page and "0.9621" in page  # the shipped glyphnet-32, zoo eval


def test_gallery_in_a_real_browser(gallery, tmp_path):
    from PIL import Image

    shot = tmp_path / "gallery.png"
    report = inspect_page(gallery / "index.html", screenshot=shot)
    assert report.title == "zoo gallery"
    assert report.console_errors == [] and report.page_errors == [] and report.failed_requests == []
    assert report.sections == MODELS
    assert len(report.images) == len(MODELS) and report.broken_images == []
    for image in report.images:  # decoded at the file's own size
        width, height = Image.open(gallery / image["src"]).size
        assert (image["naturalWidth"], image["naturalHeight"]) == (width, height)
    picture = np.asarray(Image.open(shot).convert("L"))
    assert picture.shape[1] == 1200 and picture.shape[0] > 900 and picture.std() > 20  # a page, not a blank


def test_gallery_errors_are_one_line(tmp_path):
    assert_one_line_error(run_zoo("gallery", "-o", str(tmp_path / "g"), "glyphnet-99"), "unknown model 'glyphnet-99'")
    (tmp_path / "file").write_text("x")
    assert_one_line_error(run_zoo("gallery", "-o", str(tmp_path / "file"), "glyphnet-32"), "file")
