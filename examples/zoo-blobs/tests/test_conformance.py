"""zoo's conformance kit on everything this plugin registers: one pytest test per check."""

from zoo_core.testing import parametrize_with_checks


# "blobs" is this plugin's entry-point name: it expands to the blobs family and the blobs-16 model.
@parametrize_with_checks(["blobs"], overrides={"batch_size": 32})
def test_zoo_conformance(name, check):
    check(name)
