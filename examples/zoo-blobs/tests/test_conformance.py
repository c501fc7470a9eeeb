"""zoo's conformance kit on everything this plugin registers: one pytest test per check."""

from zoo_core.testing import parametrize_with_checks


@parametrize_with_checks(["blobs", "blobs-16"], overrides={"batch_size": 32})
def test_zoo_conformance(name, check):
    check(name)
