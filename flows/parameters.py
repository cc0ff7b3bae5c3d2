"""The one parameter model both scoring flows take: what to read, where to store, which server, how to score.

``prefect deployment run 'score-conversations/adhoc' --param run='{"source": "convs/", "strategy": "hierarchical"}'``
sets any of them; the rest keep their defaults (docs/scaling.md).
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from memscore_core.config import ScoringConfig
from memscore_core.formats import InputFormat, InputOptions
from memscore_core.settings import Settings

DEFAULT_PART_TOKENS = 50_000


class ScoringRun(ScoringConfig):
    """A scoring configuration (strategy, chunk_tokens, window, masks, noise_floor, floor_quantile, ablation)
    and where the run reads, stores and sends.

    ``source``: a file, directory or glob, or a list of them (an event's paths); ``db``: the store; ``base_url``:
    a server or comma-separated replicas (default: the embedded model); ``api_key_secret``: a Prefect Secret block
    holding the API key;
    ``concurrency``: requests in flight per replica; ``rescore``: score again what is stored (reading every file);
    ``full_scan``: read every file whole, not only new files and appended JSONL tails; ``part_tokens``:
    planned prompt tokens per ``score-part`` task; ``input_format``, ``memory_tools`` and ``memory_key_arg`` read
    OpenAI chat logs and Letta agent files as ``memscore score`` does (docs/format-*.md).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str | list[str] = "data/conversations"
    db: str = "data/memscore.duckdb"
    base_url: str | None = None
    model: str | None = None
    api_key_secret: str | None = None
    concurrency: int = Field(default=8, ge=1)
    rescore: bool = False
    full_scan: bool = False
    part_tokens: int = Field(default=DEFAULT_PART_TOKENS, ge=0)
    input_format: InputFormat = "auto"
    memory_tools: list[str] | None = None
    memory_key_arg: str = "key"

    @property
    def config(self) -> ScoringConfig:
        """What the run computes, without where it runs."""
        return ScoringConfig.model_validate(self.model_dump(include=set(ScoringConfig.model_fields)))

    def result_config(self) -> dict[str, Any]:
        return self.config.result_config()

    def settings(self) -> Settings:
        """The server, model and concurrency, over the ``MEMSCORE_*`` environment."""
        return Settings.with_overrides(base_url=self.base_url, model=self.model, concurrency=self.concurrency)

    def input_options(self) -> InputOptions:
        return InputOptions(input_format=self.input_format, memory_tools=tuple(self.memory_tools or ()),
                            memory_key_arg=self.memory_key_arg)


DEFAULT_RUN = ScoringRun()
"""Every default: the sample corpus into ``data/memscore.duckdb`` on the embedded model, exact."""
