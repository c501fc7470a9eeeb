"""Fixtures shared by the test modules (pytest finds them here; tests just name them).

Helper *functions* live in the ``helpers`` package (tests/helpers/, on sys.path through this conftest's
folder) and are imported where they are called: ``helpers.clitools`` (the CLI in-process and in
subprocesses), ``helpers.pluginenv`` (installed plugins), ``helpers.toyplugin`` (the toy family),
``helpers.hub_server`` and ``helpers.hostile_hub`` (Hub endpoints on 127.0.0.1).
"""

from __future__ import annotations

import pytest

from helpers.toyplugin import ToyPlugin, make_registry


@pytest.fixture
def toy_registry(monkeypatch):
    """The global registry replaced by one holding only the toy plugin (family ``toy``, models toy-8, toy-16)."""
    return make_registry(ToyPlugin(), monkeypatch=monkeypatch)


@pytest.fixture
def runner():
    """A click ``CliRunner`` for the ``zoo`` command in-process."""
    from click.testing import CliRunner

    return CliRunner()
