"""Running the checks: every check in order, :func:`check_plugin` and the pytest parametrisation."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from zoo_core.testing.common import CheckFailure, CheckResult, CheckSkipped, ExpectedFailures, Overrides
from zoo_core.testing.config_checks import (
    check_bad_config,
    check_catalog_weights,
    check_config_keys,
    check_list_no_framework,
)
from zoo_core.testing.model_checks import (
    check_build,
    check_config_json,
    check_global_rng,
    check_registers,
    check_sample,
    check_sample_deterministic,
    check_sample_empty,
    check_sample_prefix,
    check_save_load,
)
from zoo_core.testing.runtime_checks import (
    check_device,
    check_distributed,
    check_examples,
    check_trains_on_data,
    check_zoo_train,
)
from zoo_core.testing.training_checks import check_resume_exact, check_train_step

#: every check, in the order the kit runs them
CHECKS: dict[str, Callable[..., None]] = {f.__name__: f for f in (
    check_registers, check_config_json, check_build, check_sample, check_sample_deterministic,
    check_sample_prefix, check_sample_empty, check_global_rng, check_save_load, check_train_step,
    check_resume_exact, check_zoo_train, check_device, check_distributed, check_trains_on_data, check_examples,
    check_config_keys, check_list_no_framework, check_bad_config, check_catalog_weights)}


def expand_names(name: str) -> list[str]:
    """The names the kit checks for ``name``.

    A plugin's entry-point name expands to the families and models that plugin registered (even
    when a family has the same name); a model or family name is kept; an unknown name is kept
    too (its ``check_registers`` fails with an explanation).
    """
    from zoo_core.plugins import get_registry

    registry = get_registry()
    info = registry.plugins.get(name)
    if info is not None and (info.families or info.models):
        return sorted(info.families) + sorted(info.models)
    return [name]


def checks_for(name: str) -> Iterator[tuple[str, Callable[..., None]]]:
    """``(check name, check function)`` for every check that applies to the model or family ``name``.

    ``check_catalog_weights`` applies only to catalog models with ``pkg://`` or ``file://``
    weights; a name that is not registered gets only ``check_registers`` (which explains why).
    """
    from zoo_core.plugins import get_registry

    registry = get_registry()
    if name not in registry.models and name not in registry.families:
        yield "check_registers", check_registers
        return
    entry = registry.models.get(name)
    for check_name, fn in CHECKS.items():
        if check_name == "check_catalog_weights" and (
                entry is None or entry.weights is None or entry.weights.source.startswith("hf://")):
            continue
        yield check_name, fn


def _per_name(value: Any, name: str) -> dict:
    if value is None:
        return {}
    if callable(value) and not isinstance(value, Mapping):
        return dict(value(name) or {})
    return dict(value)


def _validate_expected(expected: Mapping[str, str]) -> None:
    unknown = sorted(set(expected) - set(CHECKS))
    if unknown:
        raise ValueError(f"expected_failed_checks names unknown checks {unknown}; the checks are {sorted(CHECKS)}")
    for check_name, reason in expected.items():
        if not isinstance(reason, str) or not reason.strip():
            raise ValueError(f"expected_failed_checks[{check_name!r}] must be a non-empty reason string")


def check_plugin(name: str, expected_failed_checks: ExpectedFailures = None, *,
                 overrides: Overrides = None, raise_on_failure: bool = True) -> list[CheckResult]:
    """Run every applicable check on a model, a family, or all that a plugin registered.

    :param name: a catalog model name, a family name, or a plugin's entry-point name.
    :param expected_failed_checks: ``{"check_name": "reason"}`` of checks known to fail, or a
        function ``f(name) -> dict`` for per-name declarations. Unknown check names are an error.
    :param overrides: config overrides for :func:`zoo_core.build` (a dict, or ``f(name) -> dict``),
        to check a small variant of a large model.
    :param raise_on_failure: ``False`` returns the results instead of raising.
    :returns: one :class:`CheckResult` per check and name.
    :raises CheckFailure: listing every unexpected failure, and every declared failure that
        passed (``xpass``: remove it from ``expected_failed_checks``).
    """
    results: list[CheckResult] = []
    for target in expand_names(name):
        expected = _per_name(expected_failed_checks, target)
        _validate_expected(expected)
        ov = _per_name(overrides, target)
        for check_name, fn in checks_for(target):
            try:
                fn(target, overrides=ov)
            except CheckSkipped as exc:
                results.append(CheckResult(target, check_name, "skipped", str(exc)))
            except Exception as exc:  # noqa: BLE001 - a check may also fail by raising
                message = str(exc) if isinstance(exc, AssertionError) else f"{type(exc).__name__}: {exc}"
                status = "xfail" if check_name in expected else "failed"
                results.append(CheckResult(target, check_name, status, message))
            else:
                status = "xpass" if check_name in expected else "passed"
                note = f"expected to fail ({expected[check_name]}) but passed" if status == "xpass" else ""
                results.append(CheckResult(target, check_name, status, note))
    bad = [r for r in results if r.status in ("failed", "xpass")]
    if bad and raise_on_failure:
        lines = "\n".join(f"  {r.name} {r.check} [{r.status}]: {r.message}" for r in bad)
        raise CheckFailure(f"{len(bad)} of {len(results)} checks of {name!r} failed:\n{lines}")
    return results


def parametrize_with_checks(names: str | Iterable[str], *, expected_failed_checks: ExpectedFailures = None,
                            overrides: Overrides = None):
    """A ``pytest.mark.parametrize("name, check", ...)`` decorator: one test per name and check.

    Decorate ``def test_x(name, check): check(name)``. Each ``check`` is the check function with
    the name's ``overrides`` bound; ids read ``<name>-<check_name>``. Checks listed in
    ``expected_failed_checks`` (``{"check_name": "reason"}`` or ``f(name) -> dict``) are marked
    ``pytest.mark.xfail(reason=..., strict=True)``. Plugin entry-point names expand to their
    families and models, as in :func:`check_plugin`. Imports pytest (only this function does).
    """
    import pytest

    params = []
    for given in ([names] if isinstance(names, str) else list(names)):
        for target in expand_names(given):
            expected = _per_name(expected_failed_checks, target)
            _validate_expected(expected)
            ov = _per_name(overrides, target)
            for check_name, fn in checks_for(target):
                bound = _skipping(fn, ov)
                marks = [pytest.mark.xfail(reason=expected[check_name], strict=True)] if check_name in expected else []
                params.append(pytest.param(target, bound, id=f"{target}-{check_name}", marks=marks))
    return pytest.mark.parametrize("name, check", params)


def _skipping(fn: Callable[..., None], overrides: dict) -> Callable[[str], None]:
    """``fn`` with ``overrides`` bound, turning :class:`CheckSkipped` into a pytest skip."""

    @functools.wraps(fn)
    def check(name: str) -> None:
        import pytest

        try:
            fn(name, overrides=overrides)
        except CheckSkipped as exc:
            pytest.skip(str(exc))

    check.keywords = {"overrides": overrides}  # type: ignore[attr-defined]  # like the functools.partial it was
    return check
