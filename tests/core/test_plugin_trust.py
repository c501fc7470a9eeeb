"""Hostile third-party plugins cannot take over built-in names or core commands, nor take zoo down.

Each plugin is a real installed distribution (``*.dist-info`` on PYTHONPATH) and the real ``zoo``
runs in a subprocess. Entry-point names are chosen to sort *before* the built-ins ("aaa..."),
and hooks are marked ``trylast``/``tryfirst``, so neither the entry-point order nor pluggy's call
order can decide who keeps a name.
"""

from __future__ import annotations

import json

import pytest

from helpers.pluginenv import by_name, error_lines, python, write_dist, zoo, zoo_json

HOSTILE = {
    # distribution: (entry-point name, {file: source})
    "evil-family": ("aaa_family", {"evil_family.py": '''
        import zoo_core
        from zoo_core import Family

        @zoo_core.hookimpl(trylast=True)
        def register_families(register):
            register(Family(name="vae", framework="numpy", factory="evil_family:Nope"))
        '''}),
    "evil-model": ("aab_model", {"evil_model.py": '''
        import zoo_core

        @zoo_core.hookimpl(tryfirst=True)
        def register_models(register):
            register(name="vae-glyphs-28", family="vae", description="hijacked")
        '''}),
    "evil-commands": ("aac_commands", {"evil_commands.py": '''
        import click
        import zoo_core

        @zoo_core.hookimpl(tryfirst=True)
        def register_commands(cli):
            @cli.command("extra-ok")
            def extra_ok():
                click.echo("extra")

            @cli.command("sample")
            def sample():
                click.echo("HIJACKED sample")
        '''}),
    "evil-grid": ("aad_grid", {"evil_grid.py": '''
        import click
        import zoo_core

        @zoo_core.hookimpl
        def register_commands(cli):
            cli.commands["random-cnn-grid"] = click.Command("random-cnn-grid", callback=lambda: print("HIJACKED"))
        '''}),
    "evil-exit": ("aae_exit", {"evil_exit.py": '''
        import sys
        sys.exit(3)
        '''}),
    "evil-hookexit": ("aaf_hookexit", {"evil_hookexit.py": '''
        import zoo_core

        @zoo_core.hookimpl
        def register_families(register):
            raise SystemExit(1)
        '''}),
    "evil-half": ("aag_half", {"evil_half.py": '''
        import zoo_core
        from zoo_core import ConfigSpec, Family, Param

        @zoo_core.hookimpl
        def register_families(register):
            register(Family(name="halfy", framework="numpy", factory="evil_half:Nope",
                            config=ConfigSpec({"seed": Param(0, "int", min=0, max=9)})))

        @zoo_core.hookimpl
        def register_models(register):
            register(name="halfy-1", family="halfy")
            raise RuntimeError("broke after registering one model")
        '''}),
    "evil-base": ("aah_base", {"evil_base.py": '''
        import zoo_core

        class Boom(BaseException):
            pass

        @zoo_core.hookimpl
        def register_commands(cli):
            raise Boom("a BaseException from a hook")
        '''}),
    "evil-samename": ("vae", {"evil_samename.py": '''
        import zoo_core
        from zoo_core import Family

        @zoo_core.hookimpl
        def register_families(register):
            register(Family(name="vae", framework="numpy", factory="evil_samename:Nope"))
        '''}),
}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile-plugins")
    for dist, (entry, modules) in HOSTILE.items():
        write_dist(root, dist, {entry: entry and modules and next(iter(modules))[:-3]}, modules)
    return root


@pytest.fixture(scope="module")
def plugins(site):
    proc = zoo("plugins", "--json", path=[site])
    assert proc.returncode == 0, proc.stderr
    return by_name(json.loads(proc.stdout)), proc.stderr


@pytest.fixture(scope="module")
def models(site):
    return by_name(zoo_json("list", "--json", path=[site]))


def test_builtin_families_keep_their_names(plugins, models):
    info, _ = plugins
    assert info["vae"]["builtin"] and sorted(info["vae"]["families"]) == ["ae", "vae"] and info["vae"]["error"] is None
    assert models["vae-glyphs-28"]["plugin"] == "vae" and models["vae-glyphs-28"]["description"] != "hijacked"
    assert models["ae-glyphs-28"]["plugin"] == "vae"
    error = info["aaa_family"]["error"]
    assert "family 'vae'" in error and "'vae'" in error and "'aaa_family'" in error
    assert "'aab_model'" in info["aab_model"]["error"] and "vae-glyphs-28" in info["aab_model"]["error"]


def test_an_entry_point_with_a_builtin_name_is_refused(plugins):
    info, _ = plugins
    (clash,) = [p for name, p in info.items() if name.startswith("vae (")]
    assert "clashes with the built-in plugin 'vae'" in clash["error"] and "evil-samename" in clash["error"]
    assert info["vae"]["distribution"] == "zoo"


def test_systemexit_at_import_or_in_a_hook_is_isolated(plugins, models, site):
    info, stderr = plugins
    assert "SystemExit: 3" in info["aae_exit"]["error"]
    assert "register_families failed: SystemExit" in info["aaf_hookexit"]["error"]
    assert "glyphnet-64" in models
    proc = python("import zoo_core; print(len(zoo_core.list_models()))", path=[site])
    assert proc.returncode == 0 and int(proc.stdout) >= 8, proc.stderr


def test_a_plugin_that_failed_part_way_leaves_nothing_usable(plugins, models, site):
    info, _ = plugins
    assert "broke after registering one model" in info["aag_half"]["error"]
    assert info["aag_half"]["families"] == [] and info["aag_half"]["models"] == []
    assert "halfy-1" not in models
    proc = zoo("info", "halfy-1", path=[site])
    assert proc.returncode == 2 and error_lines(proc.stderr)[0].startswith("zoo: error: unknown model 'halfy-1'")


def test_core_and_builtin_commands_cannot_be_replaced(plugins, site):
    info, _ = plugins
    assert "command 'sample' belongs to zoo (core)" in info["aac_commands"]["error"]
    assert "command 'random-cnn-grid' belongs to plugin 'random_cnn'" in info["aad_grid"]["error"]
    assert "Boom" in info["aah_base"]["error"]
    helped = zoo("sample", "--help", path=[site])
    assert helped.returncode == 0 and "Generate N images" in helped.stdout and "HIJACKED" not in helped.stdout
    listing = zoo("--help", path=[site])
    assert "extra-ok" not in listing.stdout  # the failed plugin's other command is withdrawn too
    grid = zoo("random-cnn-grid", "--help", path=[site])
    assert grid.returncode == 0 and "soph" in grid.stdout
