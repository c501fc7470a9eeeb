"""Config specs: typed parsing of --set values, ranges, choices, and one-line errors."""

import pytest

from zoo_core import ConfigError, ConfigSpec, Param
from helpers.toyplugin import TOY_SPEC


def test_defaults_and_overrides_resolve():
    config = TOY_SPEC.resolve({"size": 16}, {"latent": 8})
    assert config == {"size": 16, "latent": 8, "seed": 0, "mode": "a"}


@pytest.mark.parametrize("pair, message", [
    ("size=abc", "cannot read 'abc' as int"),
    ("size=1", "below the minimum 2"),
    ("size=65", "above the maximum 64"),
    ("mode=c", "is not one of 'a', 'b'"),
    ("sise=4", "unknown config key 'sise'; did you mean 'size'?"),
    ("size", "--set expects key=value"),
])
def test_bad_values_name_the_key(pair, message):
    with pytest.raises(ConfigError) as err:
        TOY_SPEC.parse_overrides([pair])
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_parse_types():
    spec = ConfigSpec({"f": Param(0.5, "float"), "b": Param(False, "bool"), "l": Param([1], "list"),
                       "n": Param(None, "int", nullable=True)})
    assert spec.parse_overrides(["f=2", "b=yes", "l=3,4", "n=none"]) == {"f": 2.0, "b": True, "l": [3, 4], "n": None}
    assert spec.parse_overrides(["l=[5, 6]"]) == {"l": [5, 6]}


def test_python_values_are_type_checked():
    with pytest.raises(ConfigError, match="expected int, got bool"):
        TOY_SPEC.resolve({"size": True})
    with pytest.raises(ConfigError, match="expected int, got str"):
        TOY_SPEC.resolve({"size": "8"})


def test_cross_field_check_runs():
    def check(config):
        if config["lo"] > config["hi"]:
            raise ConfigError("lo must not exceed hi")

    spec = ConfigSpec({"lo": Param(0, "int"), "hi": Param(1, "int")}, check=check)
    with pytest.raises(ConfigError, match="lo must not exceed hi"):
        spec.resolve({"lo": 3})
