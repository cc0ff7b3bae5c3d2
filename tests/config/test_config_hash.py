"""A configuration's hash is what it was before the layout of issue 22 (1ed68a0): stored results keep their keys.

Hierarchical and auto hashes changed since, on purpose: they now carry the screen's constants
(:func:`memscore_core.strategies.hierarchical.constants`), which issue 24 changed, so results of an earlier
screen are not taken for the new one's. Under replacement they changed once more, with ``share`` (an inference
rule of the replace screen only); under removal the screen did not change, and neither did their keys."""

from __future__ import annotations

from typing import Any

import pytest

from memscore_core.config import ScoringConfig

TUNED = {"masks": 64, "noise_floor": 0.5}
BEFORE_THE_LAYOUT = [
    ("exact", "remove", {}, "d8d89f6e88d26c7458363d59f94c48aa7c8a1ae34f0623f5e6d680de0e63e7ba"),
    ("exact", "remove", TUNED,
     "d8d89f6e88d26c7458363d59f94c48aa7c8a1ae34f0623f5e6d680de0e63e7ba"),
    ("exact", "replace", {}, "ba58dd59a3e5fefcb22e27a035179a39d9aab99d8843a7a4e87025035658f39e"),
    ("exact", "replace", TUNED,
     "ba58dd59a3e5fefcb22e27a035179a39d9aab99d8843a7a4e87025035658f39e"),
    ("seed", "remove", {}, "5dc2d3118a13ee3108e2f303cf30be133796a6c2fdb07b4c0430011cb21f00f2"),
    ("seed", "remove", TUNED,
     "5dc2d3118a13ee3108e2f303cf30be133796a6c2fdb07b4c0430011cb21f00f2"),
    ("hierarchical", "remove", {}, "67206236b6ad2472ebae65e182d3a13bbe6b9d4dc425d422c75b77a3019fc919"),
    ("hierarchical", "remove", TUNED,
     "b9abb91aea575c6e6401d111fc6495556c8bb269726c2eae9f3c9758eec40e20"),
    ("hierarchical", "replace", {}, "1c6e25f6483447a0b14e78b9303a0e9fb29162320b3a57c1a7e07746273705f8"),
    ("hierarchical", "replace", TUNED,
     "1ebef9e963ac4bd1797704f05cbd091bb0956daf9c41b1f9bdf95c904d9742c5"),
    ("surrogate", "remove", {}, "96fa0930ee8adfabf6218819062a6ac43ef4aedb511621c74a3e95c797405b72"),
    ("surrogate", "remove", TUNED,
     "96fa0930ee8adfabf6218819062a6ac43ef4aedb511621c74a3e95c797405b72"),
    ("surrogate", "replace", {}, "3b2504d24848b2448ce92e3e88af47a3aa1fc09f35bd5a471010ece9fc3cd6c3"),
    ("surrogate", "replace", TUNED,
     "3b2504d24848b2448ce92e3e88af47a3aa1fc09f35bd5a471010ece9fc3cd6c3"),
    ("auto", "remove", {}, "42dd3f98b16b40daa14b3e0045c2c752766f30d03fb0fdc99bddd08a27e1fd0e"),
    ("auto", "remove", TUNED,
     "3dcc6c8d1f6ce2eff0b6e49f9b2911738079d00e7273b6fafe32ad675b83ba96"),
    ("auto", "replace", {}, "7af987ebc2fc4e9d53a2693b4ffd55e99d2ca3afa52daab95fd605f890575578"),
    ("auto", "replace", TUNED,
     "5892ca5cafa0b8e2d735dde5f9ec44996d1643fcb43fd863543095f8288c7f8f"),
]


@pytest.mark.parametrize(("strategy", "ablation", "settings", "hashed"), BEFORE_THE_LAYOUT)
def test_a_configuration_hashes_as_it_did_before_the_layout(strategy: str, ablation: str, settings: dict[str, Any],
                                                             hashed: str) -> None:
    assert ScoringConfig(strategy=strategy, ablation=ablation, **settings).hash() == hashed


def test_the_seed_strategy_refuses_replacement_naming_the_strategies_that_replace() -> None:
    with pytest.raises(ValueError, match="the seed strategy removes memories, as the original did: ablation "
                                         "'replace' needs exact, hierarchical, surrogate or auto"):
        ScoringConfig(strategy="seed", ablation="replace")


def test_an_unknown_strategy_names_the_known_ones() -> None:
    with pytest.raises(ValueError,
                       match="unknown strategy 'greedy': choose exact, seed, hierarchical, surrogate, auto"):
        ScoringConfig(strategy="greedy")
