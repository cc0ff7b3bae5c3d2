"""The options every command that scores shares: which strategy, and the settings of the screening ones."""

from __future__ import annotations

from typing import Annotated, cast, get_args

import typer
from pydantic import ValidationError

from memscore_core.config import Ablation, ScoringConfig
from memscore_core.strategies import registry
from memscore_core.strategies.noise_floor import DEFAULT_QUANTILE
from memscore_core.strategies.surrogate import DEFAULT_MASKS, MIN_MASKS

__all__ = ["ABLATIONS", "DEFAULT_MASKS", "DEFAULT_QUANTILE", "STRATEGIES", "AblationOption", "FloorQuantileOption",
           "MasksOption", "NoiseFloorOption", "StrategyOption", "ablation_names", "scoring_config", "strategy_names"]

STRATEGIES: tuple[str, ...] = tuple(registry.STRATEGIES)
ABLATIONS: tuple[str, ...] = get_args(Ablation)

StrategyOption = Annotated[str, typer.Option(
    help="exact (default), seed (the original algorithm), hierarchical (screen groups of memories, refine "
         "those that matter), surrogate (a sparse fit on random masks) or auto (exact for few memories per "
         "chunk, hierarchical above). See docs/strategies.md.")]
MasksOption = Annotated[int, typer.Option(min=MIN_MASKS, help="surrogate: random masks per chunk.")]
NoiseFloorOption = Annotated[float | None, typer.Option(
    min=0, help="hierarchical/auto: a fixed noise floor in nats (default: measured per conversation).")]
FloorQuantileOption = Annotated[float, typer.Option(
    min=0, max=1, help="hierarchical/auto: the quantile of the null samples the measured floor is at.")]
AblationOption = Annotated[Ablation, typer.Option(
    help="remove (default): take each memory out of the prompt; replace: put content-free filler of the same "
         "token count in its place, so later tokens keep their positions (not with seed).")]


def ablation_names(text: str) -> list[Ablation]:
    """The ablations named in ``text`` (comma-separated, each once, in order); an unknown one is a usage error."""
    names = list(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    if not names or any(name not in ABLATIONS for name in names):
        raise typer.BadParameter(f"must be one or more of {', '.join(ABLATIONS)} (comma-separated)",
                                 param_hint="--ablation")
    return [cast(Ablation, name) for name in names]


def strategy_names(text: str, *, several: bool = False) -> list[str]:
    """The strategies named in ``text`` (comma-separated when ``several``); an unknown one is a usage error."""
    names = [name.strip() for name in text.split(",") if name.strip()] if several else [text]
    unknown = [name for name in names if name not in STRATEGIES]
    if unknown or not names:
        raise typer.BadParameter(f"must be {'one or more of' if several else 'one of'} {', '.join(STRATEGIES)}"
                                 f"{' (comma-separated)' if several else ''}", param_hint="--strategy")
    return names


def scoring_config(strategy: str, *, chunk_tokens: int, window: int | None = None, masks: int = DEFAULT_MASKS,
                   noise_floor: float | None = None, floor_quantile: float = DEFAULT_QUANTILE,
                   ablation: Ablation = "remove") -> ScoringConfig:
    """The configuration the options describe; an invalid value is a usage error naming its option."""
    try:
        return ScoringConfig.model_validate({"strategy": strategy, "chunk_tokens": chunk_tokens, "window": window,
                                             "masks": masks, "noise_floor": noise_floor,
                                             "floor_quantile": floor_quantile, "ablation": ablation})
    except ValidationError as exc:
        location = exc.errors()[0]["loc"]
        field = str(location[0]).replace("_", "-") if location else "ablation"
        raise typer.BadParameter(exc.errors()[0]["msg"], param_hint=f"--{field}") from exc
