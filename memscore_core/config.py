"""What a scoring run computes: the strategy, the ablation and their settings."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from memscore_core.ablation.chunking import DEFAULT_CHUNK_TOKENS
from memscore_core.model.result import config_hash
from memscore_core.strategies.noise_floor import DEFAULT_QUANTILE
from memscore_core.strategies.registry import STRATEGIES, spec
from memscore_core.strategies.spec import TUNING, StrategySpec
from memscore_core.strategies.surrogate import DEFAULT_MASKS, MIN_MASKS


def _known(name: str) -> str:
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}: choose {', '.join(STRATEGIES)}")
    return name


Strategy = Annotated[str, AfterValidator(_known)]
"""A strategy's name, one of :data:`memscore_core.strategies.registry.STRATEGIES`."""

Ablation = Literal["remove", "replace"]


class ScoringConfig(BaseModel):
    """What is computed. Everything here changes results and so enters the config hash.

    ``masks``: random masks per chunk (surrogate); ``noise_floor``: a fixed floor in nats for screening
    (hierarchical), ``None`` to measure it per conversation at ``floor_quantile`` of its null samples.
    ``ablation``: ``remove`` takes a memory out of the prompt (the seed's semantics); ``replace`` puts
    content-free filler of the same token count in its place (:mod:`memscore_core.ablation.fillers`).
    """

    model_config = ConfigDict(frozen=True)

    strategy: Strategy = "exact"
    chunk_tokens: int = Field(default=DEFAULT_CHUNK_TOKENS, ge=1)
    window: int | None = Field(default=None, ge=1)
    masks: int = Field(default=DEFAULT_MASKS, ge=MIN_MASKS)
    noise_floor: float | None = Field(default=None, ge=0)
    floor_quantile: float = Field(default=DEFAULT_QUANTILE, gt=0, le=1)
    ablation: Ablation = "remove"

    @property
    def spec(self) -> StrategySpec:
        """The strategy this configuration names."""
        return spec(self.strategy)

    @model_validator(mode="after")
    def _ablation_supported(self) -> ScoringConfig:
        if self.ablation == "replace" and not self.spec.replaces:
            replacing = [name for name, strategy in STRATEGIES.items() if strategy.replaces]
            raise ValueError(f"{self.spec.removal_only_why}: ablation 'replace' needs "
                             f"{', '.join(replacing[:-1])} or {replacing[-1]}")
        return self

    def result_config(self) -> dict[str, Any]:
        """The settings the strategy uses (so exact and seed configurations hash as they always have; the
        ablation only when it is ``replace``)."""
        config = self.model_dump()
        if self.ablation == "remove":
            del config["ablation"]
        for name in TUNING:
            if name not in self.spec.reads:
                del config[name]
        return config | self.spec.hashed(self.ablation)

    def hash(self) -> str:
        return config_hash(self.result_config())
