"""`memscore bench models`: exact on the embedded server beside the brute-force loop, per shipped model."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from memscore_core.bench.models import ModelRow, ModelsReport, Side, model_dirs
from memscore_core.bench.targets import check_models_targets
from memscore_core.settings import DEFAULT_MODEL_DIR


def row(model: str, parameters: int, ours_s: float, loop_s: float) -> ModelRow:
    return ModelRow(model=model, path=f"data/models/{model}", parameters=parameters, cores=2, lanes=2,
                    lane_threads=1, loop_threads=2, lanes_busy=1.5, peak_lanes=2,
                    memscore=Side(prompts=8, prompt_tokens=2000, wall_s=ours_s, cpu_s=ours_s),
                    loop=Side(prompts=8, prompt_tokens=2000, wall_s=loop_s, cpu_s=loop_s),
                    computed_tokens=1900, reused_tokens=100, load=(0.5, 0.5))


def test_the_wall_target_judges_real_models_only() -> None:
    report = ModelsReport(conversations=5, seed=14, rows=[row("memscore-tiny", 700_000, 2.0, 1.0),
                                                          row("smollm2-135m-instruct", 134_515_008, 4.0, 10.0),
                                                          row("other-real-model", 200_000_000, 6.0, 10.0)])
    verdicts = {target.name: target.met for target in check_models_targets(report)}
    assert verdicts == {"smollm2-135m-instruct on 2 cores: exact wall ÷ brute-force loop": True,
                        "other-real-model on 2 cores: exact wall ÷ brute-force loop": False}


def test_the_shipped_models_are_listed_with_the_chosen_one_once() -> None:
    shipped = model_dirs()
    assert DEFAULT_MODEL_DIR in shipped
    assert model_dirs(DEFAULT_MODEL_DIR) == shipped


def test_bench_models_scores_the_same_prompts_both_ways_on_every_shipped_model() -> None:
    done = subprocess.run([sys.executable, "-m", "memscore_core.cli", "bench", "models", "--conversations", "1",
                           "--model-dir", str(DEFAULT_MODEL_DIR), "--cores", "1,2", "--json"], capture_output=True,
                          text=True, timeout=600, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [(r["model"], r["cores"]) for r in report["rows"]] == [(DEFAULT_MODEL_DIR.name, n) for n in (1, 2)]
    for measured in report["rows"]:
        assert measured["lanes"] == 1 and 0 < measured["lanes_busy"] <= 1  # a tiny model: one lane
        ours, loop = measured["memscore"], measured["loop"]
        assert ours["prompts"] == loop["prompts"] > 0 and ours["prompt_tokens"] == loop["prompt_tokens"]
        assert measured["computed_tokens"] <= ours["prompt_tokens"]
        assert ours["tokens_per_s"] > 0 and loop["tokens_per_s"] > 0 and measured["wall_vs_loop"] > 0
    assert report["targets"] == []



def test_bench_models_can_score_a_many_memory_interleaved_corpus_both_ways() -> None:
    done = subprocess.run([sys.executable, "-m", "memscore_core.cli", "bench", "models", "--conversations", "1",
                           "--memories", "3", "--shape", "interleaved", "--cores", "1", "--model-dir",
                           str(DEFAULT_MODEL_DIR), "--json"], capture_output=True, text=True,
                          timeout=600, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["memories"], report["shape"]) == (3, "interleaved")
    [measured] = report["rows"]
    assert measured["memscore"]["prompts"] == measured["loop"]["prompts"] >= 5  # baseline, 3 ablations, drop-all


def test_bench_models_can_score_conversations_together_as_memscore_score_does() -> None:
    done = subprocess.run([sys.executable, "-m", "memscore_core.cli", "bench", "models", "--conversations", "3",
                           "--together", "2", "--cores", "2", "--model-dir", str(DEFAULT_MODEL_DIR), "--json"],
                          capture_output=True, text=True, timeout=600, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    [measured] = report["rows"]
    assert report["together"] == 2 and measured["cores"] == 2
    assert measured["memscore"]["prompts"] == measured["loop"]["prompts"] > 0
