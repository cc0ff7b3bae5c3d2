"""A configuration's hash is what it was before the layout of issue 22 (1ed68a0): stored results keep their keys."""

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
    ("hierarchical", "remove", {}, "673646085e176ed74b577ada0a3e0500494fbd6e40684347814b20c4a8aa9b01"),
    ("hierarchical", "remove", TUNED,
     "ecaa280a6ebe425e0d330a927c828f880c5fdf3392deb9c636b88014f2f33d8f"),
    ("hierarchical", "replace", {}, "ef0bf08fa38380d8cc7e575f356d9ad5865cfa6039d40776cfb0a7415f8c5377"),
    ("hierarchical", "replace", TUNED,
     "7d24e07a8f11f7c9c060d2ce1ae9307adfe50c828ec91c7eebef088f62ba6d4e"),
    ("surrogate", "remove", {}, "96fa0930ee8adfabf6218819062a6ac43ef4aedb511621c74a3e95c797405b72"),
    ("surrogate", "remove", TUNED,
     "96fa0930ee8adfabf6218819062a6ac43ef4aedb511621c74a3e95c797405b72"),
    ("surrogate", "replace", {}, "3b2504d24848b2448ce92e3e88af47a3aa1fc09f35bd5a471010ece9fc3cd6c3"),
    ("surrogate", "replace", TUNED,
     "3b2504d24848b2448ce92e3e88af47a3aa1fc09f35bd5a471010ece9fc3cd6c3"),
    ("auto", "remove", {}, "c113fd9fab3b4c73bacc4a0dfba5e40a5f62703bb0e3b498d6bd98e445fc4fef"),
    ("auto", "remove", TUNED,
     "38f83800990c7de2d708b023a03f3332f40b6579a515185867135e79c690f56a"),
    ("auto", "replace", {}, "6e096f6379b21b282f61ee5bab3fd29e62d29be72c29b61fc6aa31b90d30d18a"),
    ("auto", "replace", TUNED,
     "3c12ec62d1c456c6b2d8b06eeb9d9150336f56b0121ec3a7969cbfe2a7e267b3"),
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
