"""``memscore bench models``: per model, memscore's exact scoring on the embedded server beside a brute-force loop.

For each model directory and each number of cores the same synthetic conversations are scored twice with the
same loaded transformers model: by memscore's exact strategy through the embedded server in-process, as
``memscore score`` runs it (request pool, prefix cache, the lanes it takes on that many cores), and by the obvious
loop on that many torch threads: every prompt exact sends (each chunk whole, each memory left out, all of a
chunk's memories left out) rendered by the model's chat template and run through one float32 forward pass and a
log-softmax each, no prefix reuse. Both sides at every core count alternate conversation by conversation, and
which goes first alternates too, so that load from other processes falls on all alike.
Reported: prompt tokens per wall second for each, CPU seconds, the lanes memscore used, the load average, and
memscore's wall ÷ the loop's.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, computed_field

from memscore_core.settings import REPO_ROOT
from memscore_core.synth.generator import generate_corpus
from memscore_core.synth.many import Layout, ManyShape, corpus_chunk_tokens, generate_many_corpus

SHIPPED_MODELS = REPO_ROOT / "data" / "models"


class Side(BaseModel):
    """One way of scoring the corpus: its prompts, prompt tokens, wall and CPU seconds (all threads)."""

    prompts: int = 0
    prompt_tokens: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def tokens_per_s(self) -> float:
        return self.prompt_tokens / self.wall_s if self.wall_s else 0.0


class ModelRow(BaseModel):
    """One model on ``cores`` cores: memscore's exact scoring in ``lanes`` lanes of ``lane_threads`` torch threads
    (on average ``lanes_busy`` of them computing over its wall time, at most ``peak_lanes``) and the loop on
    ``loop_threads`` torch threads, on the same conversations; the server's counters; the 1-minute load average
    before and after."""

    model: str
    path: str
    parameters: int
    cores: int
    lanes: int
    lane_threads: int
    loop_threads: int
    lanes_busy: float
    peak_lanes: int
    memscore: Side
    loop: Side
    computed_tokens: int
    reused_tokens: int
    load: tuple[float, float]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def wall_vs_loop(self) -> float | None:
        return self.memscore.wall_s / self.loop.wall_s if self.loop.wall_s else None


class ModelsReport(BaseModel):
    """Every model's row over the same ``conversations`` synthetic conversations (``seed``): the synth corpus, or
    with ``memories`` the many-memory one of that many memories per chunk, laid out as ``shape``; ``together``:
    the conversations scored at a time (each side alternating group by group)."""

    conversations: int
    seed: int
    together: int = 1
    memories: int | None = None
    shape: Layout | None = None
    rows: list[ModelRow]


def model_dirs(chosen: Path | None = None) -> list[Path]:
    """The shipped models (``data/models/*`` holding one), and ``chosen`` (``MEMSCORE_MODEL_DIR``) if elsewhere."""
    found = sorted(path for path in SHIPPED_MODELS.glob("*") if (path / "config.json").is_file())
    if chosen is not None and (chosen / "config.json").is_file() and chosen.resolve() not in \
            {path.resolve() for path in found}:
        found.append(chosen)
    return found


def run_models_bench(dirs: Sequence[Path], *, conversations: int, seed: int, concurrency: int = 8,
                     cores: Sequence[int] = (1,), memories: int | None = None, shape: Layout = "grouped",
                     together: int = 1) -> ModelsReport:
    """Score ``conversations`` synthetic conversations (with ``memories``: many-memory ones of ``shape``) on each
    model both ways on each number of ``cores``, ``together`` conversations at a time, alternating, and report."""
    from memscore_core.bench.brute_force import measure_model
    from memscore_core.embedded.serve import load_model

    if memories is None:
        corpus, chunk_tokens = list(generate_corpus(conversations, seed=seed)), None
    else:
        corpus = list(generate_many_corpus(conversations, seed, ManyShape(memories=memories, used=min(4, memories),
                                                                            layout=shape)))
        chunk_tokens = corpus_chunk_tokens(corpus)
    return ModelsReport(conversations=conversations, seed=seed, memories=memories, together=together,
                        shape=None if memories is None else shape,
                        rows=[row for path in dirs
                              for row in measure_model(load_model(path), corpus, concurrency, cores, chunk_tokens,
                                                       together)])
