"""A conformance kit for zoo plugins, in the spirit of scikit-learn's ``check_estimator``.

Every check is a plain function ``check_xxx(name, *, overrides=None)`` that takes a catalog model
name or a family name, runs one requirement of the zoo model contract against the installed
plugin, and raises :class:`CheckFailure` (an :class:`AssertionError`) with a one-paragraph
explanation when the requirement is not met. ``overrides`` are config values passed to
:func:`zoo_core.build` (use them to check a small, fast variant of a big model).

Run them all at once::

    from zoo_core.testing import check_plugin
    check_plugin("blobs-16")                 # a model, a family, or a plugin's entry-point name

or one pytest test per check::

    from zoo_core.testing import parametrize_with_checks

    @parametrize_with_checks(["blobs", "blobs-16"],
                             expected_failed_checks={"check_train_step": "training needs a GPU"})
    def test_zoo_conformance(name, check):
        check(name)

A check that does not apply (``check_distributed`` on a family without ``distributed=True``,
the training checks on a family that does not learn its weights) reports ``skipped`` with the
reason, never ``passed``. A check listed in ``expected_failed_checks`` is expected to fail: pytest
marks it ``xfail`` with
your reason (strictly, so an expected failure that starts passing is reported and the entry can
be removed). This package imports neither pytest nor any deep-learning framework at import time.

The kit is split by what it checks: :mod:`~zoo_core.testing.model_checks`,
:mod:`~zoo_core.testing.training_checks`, :mod:`~zoo_core.testing.config_checks`, run by
:mod:`~zoo_core.testing.runner`; shared pieces in :mod:`~zoo_core.testing.common`.
"""

from __future__ import annotations

from zoo_core.testing.common import HEAVY_MODULES, LIGHT_MODULES, CheckFailure, CheckResult, CheckSkipped
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
from zoo_core.testing.runner import CHECKS, check_plugin, checks_for, expand_names, parametrize_with_checks
from zoo_core.testing.runtime_checks import (
    check_device,
    check_distributed,
    check_examples,
    check_trains_on_data,
    check_zoo_train,
)
from zoo_core.testing.training_checks import RUN_KEYS, check_resume_exact, check_train_step

__all__ = ["CHECKS", "HEAVY_MODULES", "LIGHT_MODULES", "RUN_KEYS", "CheckFailure", "CheckResult", "CheckSkipped",
           "check_bad_config", "check_build", "check_catalog_weights", "check_config_json", "check_config_keys",
           "check_device", "check_distributed", "check_examples", "check_global_rng", "check_list_no_framework",
           "check_plugin", "check_registers", "check_resume_exact", "check_sample", "check_sample_deterministic",
           "check_sample_empty", "check_sample_prefix", "check_save_load", "check_train_step",
           "check_trains_on_data", "check_zoo_train", "checks_for", "expand_names", "parametrize_with_checks"]
