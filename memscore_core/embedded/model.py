"""A causal language model in-process: chat rendering, prompt log-probabilities, greedy generation.

Prompt log-probabilities reuse the key/value cache of the longest prefix shared with a recent prompt (memscore's
ablations share everything before the removed memory), to the token, and the output head's answers for that
prefix, so only the rest is computed. The model runs with row-invariant attention
(:mod:`memscore_core.embedded.attention`) and every pass and head pass has at least ``MIN_ROWS`` rows, so each
position's numbers are bit-for-bit those of a full recompute, wherever the passes began and whatever ran beside.
Requests are computed in ``lanes``: that many at once, each in its own thread (torch releases the GIL in its
operations) on its own torch threads, sharing one :class:`~memscore_core.embedded.prefix_cache.PrefixCache`.
Memory stays proportional to the prompt, never to prompt × vocabulary or prompt²: a cache entry keeps the
final hidden states and each position's answer (not log-softmax rows), the model runs at most ``PREFILL_SLICE``
tokens per pass, and the output head computes at most ``HEAD_ELEMENTS`` log-probabilities per pass.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from memscore_core.embedded.attention import MIN_ROWS
from memscore_core.embedded.attention import NAME as ROW_INVARIANT
from memscore_core.embedded.cores import usable_cores
from memscore_core.embedded.detokenize import decode_in_context, token_bytes
from memscore_core.embedded.head import HeadAnswers, logits
from memscore_core.embedded.hf import AutoModelForCausalLM, AutoTokenizer, DynamicCache
from memscore_core.embedded.hf import logging as transformers_logging
from memscore_core.embedded.lanes import Lanes, lanes_and_threads
from memscore_core.embedded.logprobs import PromptLogprobs, prompt_logprobs_of
from memscore_core.embedded.passes import PREFILL_SLICE, carry_head, cropped, next_pass
from memscore_core.embedded.prefix_cache import Cached, Flight, PrefixCache, Progress, kv_of, reusable
from memscore_core.embedded.roles import IM_START, role_positions
from memscore_core.errors import ConfigError

HEAD_ELEMENTS = 1 << 24
"""Log-probabilities per output-head pass (64 MB of float32), and never more positions than a prefill slice: each
pass streams the whole output embedding (113 MB for a 49k vocabulary), so a large vocabulary's head runs as many
positions per matrix product as it can (SmolLM2, one thread: 1.30 ms per position in passes of 72, 0.75 in
passes of 256), a small one's stays as small as the slice's own arrays."""
CACHE_ENTRIES, CACHE_BYTES = 3, 256 << 20
PARALLEL_HIDDEN = 512
"""Hidden size from which the model's work is spread over the cores by default (in lanes): below it each product
is too small, and each request too short, to gain from more than one core."""


class LocalModel:
    """A transformers model and tokenizer from ``model_dir``; thread-safe, ``lanes`` computations at a time.

    ``lanes`` (default: for a model of hidden size ``PARALLEL_HIDDEN`` or more, the usable cores divided by
    ``threads``; one below it) and ``threads``, the torch threads of each lane (default: one with several lanes;
    with one lane, torch's own for a wide model, every core unless ``OMP_NUM_THREADS`` says otherwise, and one for
    a small one).
    The prefix cache keeps the ``cache_entries`` prompts used last (one more per extra lane), within
    ``cache_bytes`` but at least two: the latest, whose greedy next token is asked for right after its scoring,
    and the one it reused (a conversation's baseline, which every ablation of it shares the most with), so two
    conversations scored side by side keep their baselines.
    """

    def __init__(self, model_dir: Path, *, threads: int | None = None, lanes: int | None = None,
                 prefix_cache: bool = True, cache_entries: int = CACHE_ENTRIES, cache_bytes: int = CACHE_BYTES,
                 name: str | None = None) -> None:
        transformers_logging.disable_progress_bar()
        self.model_dir = Path(model_dir)
        self.name = name or self.model_dir.name
        self.tokenizer: Any = AutoTokenizer.from_pretrained(self.model_dir)
        self.model: Any = AutoModelForCausalLM.from_pretrained(self.model_dir, dtype=torch.float32,
                                                                attn_implementation=ROW_INVARIANT).eval()
        config = self.model.config
        if getattr(config, "sliding_window", None) and getattr(config, "use_sliding_window", True):
            raise ConfigError(f"the model in {self.model_dir} uses sliding-window attention; the embedded server "
                              "serves models with full causal attention only")
        self.wide = int(config.hidden_size) >= PARALLEL_HIDDEN
        self._head_rows = max(2 * MIN_ROWS, min(PREFILL_SLICE, HEAD_ELEMENTS // int(self.model.config.vocab_size)))
        self._cache_entries = cache_entries
        self.prefix_cache = PrefixCache(cache_entries, cache_bytes, enabled=prefix_cache)
        self._lanes = Lanes(*lanes_and_threads(self.wide, usable_cores(), lanes, threads))
        self.prefix_cache.entries = cache_entries + self._lanes.count - 1
        special = set(self.tokenizer.all_special_ids) | {
            i for i, t in self.tokenizer.added_tokens_decoder.items() if t.special}
        vocab = self.tokenizer.convert_ids_to_tokens(list(range(len(self.tokenizer))))
        self._bytes = [token_bytes(piece or "", i in special) for i, piece in enumerate(vocab)]
        self._bytes += [b""] * max(0, int(self.model.config.vocab_size) - len(self._bytes))
        self._im_start = self.tokenizer.get_vocab().get(IM_START, -1)
        self.eos_ids = {i for i in (self.tokenizer.convert_tokens_to_ids("<|im_end|>"), self.tokenizer.eos_token_id)
                        if isinstance(i, int) and i >= 0}

    def use_lanes(self, lanes: int | None = None, threads: int | None = None, *, cores: int | None = None) -> None:
        """Compute up to ``lanes`` requests at once on ``threads`` torch threads each (defaults: see the class, for
        ``cores`` cores, default the usable ones); call it while nothing is computing."""
        self._lanes.configure(*lanes_and_threads(self.wide, cores or usable_cores(), lanes, threads))
        self.prefix_cache.entries = self._cache_entries + self._lanes.count - 1

    @property
    def lanes(self) -> int:
        return self._lanes.count

    @property
    def threads(self) -> int:
        """Torch threads per lane."""
        return self._lanes.threads

    @property
    def lane_seconds(self) -> float:
        """Seconds of the lanes computing, summed over the lanes."""
        return self._lanes.seconds

    @property
    def peak_lanes(self) -> int:
        """Most lanes computing at once since the lanes were set."""
        return self._lanes.peak

    @property
    def computed_tokens(self) -> int:
        """Prompt tokens run through the model."""
        return self.prefix_cache.computed_tokens

    @property
    def reused_tokens(self) -> int:
        """Prompt tokens taken from the prefix cache."""
        return self.prefix_cache.reused_tokens

    def render(self, messages: list[dict[str, Any]], *, add_generation_prompt: bool,
               continue_final_message: bool = False, tools: list[dict[str, Any]] | None = None) -> str:
        """The chat template's text, exactly what is tokenised; ``tools`` are rendered by the template."""
        return str(self.tokenizer.apply_chat_template(
            messages, tools=tools, tokenize=False, add_generation_prompt=add_generation_prompt,
            continue_final_message=continue_final_message))

    def encode(self, text: str) -> list[int]:
        """Token ids of rendered text (special tokens parsed, none added)."""
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def token_strings(self, ids: list[int]) -> list[str]:
        return [str(t) for t in self.tokenizer.convert_ids_to_tokens(ids)]

    def decode(self, ids: list[int]) -> list[str]:
        """Each token's text in context (vLLM's ``decoded_token``)."""
        return decode_in_context([self._bytes[i] for i in ids])[0]

    def prompt_logprobs(self, ids: list[int], top_k: int, wanted: npt.NDArray[np.bool_] | None = None
                        ) -> PromptLogprobs:
        """Log-probabilities of the prompt tokens after the first, with ranks and the top ``top_k``: of every one,
        or of the positions ``wanted`` (a mask over ``ids``) and any the prefix cache already held."""
        rows = torch.ones(len(ids) - 1, dtype=torch.bool) if wanted is None else torch.from_numpy(wanted[1:])
        with torch.inference_mode():
            _, head = self._entry(ids, max(top_k, 0), rows)
        assert head is not None
        return prompt_logprobs_of(ids, head, self._bytes)

    def role_positions(self, ids: list[int], roles: Collection[str]) -> npt.NDArray[np.bool_] | None:
        """A mask over ``ids``: the positions in messages of ``roles`` (``None``: no ChatML message found)."""
        return role_positions(ids, self._bytes, self._im_start, roles)

    def next_token(self, ids: list[int]) -> int:
        """The greedy next token after ``ids`` (from the prefix cache when the prompt was just scored)."""
        with torch.inference_mode():
            entry, _ = self._entry(ids)
            with self._lanes.lane():
                return int(self._log_softmax(entry.hidden[-1:])[0].argmax())

    def generate(self, ids: list[int], max_tokens: int) -> tuple[list[int], str]:
        """Greedy continuation; stops at ``<|im_end|>`` or end of text. Returns (ids, finish reason)."""
        with self._lanes.lane(), torch.inference_mode():
            cache = DynamicCache(config=self.model.config)
            output = self.model(torch.tensor([ids]), past_key_values=cache, use_cache=True)
            generated: list[int] = []
            for _ in range(max_tokens):
                token = int(output.logits[0, -1].argmax())
                generated.append(token)
                if token in self.eos_ids:
                    return generated, "stop"
                output = self.model(torch.tensor([[token]]), past_key_values=output.past_key_values, use_cache=True)
        return generated, "length"

    def _log_softmax(self, hidden: torch.Tensor) -> torch.Tensor:
        """Float32 log-softmax over the vocabulary of the output head applied to final hidden states."""
        head = self.model.get_output_embeddings()
        if getattr(head, "bias", None) is not None or head.weight.dtype != torch.float32:
            return torch.log_softmax(head(hidden).float(), dim=-1)
        return torch.log_softmax(logits(head.weight, hidden), dim=-1)

    def _entry(self, ids: list[int], top_k: int | None = None, wanted: torch.Tensor | None = None
               ) -> tuple[Cached, HeadAnswers | None]:
        """The prompt with the final hidden states of every position and, with ``top_k``, the head's answers for
        its ``wanted`` rows: from the prefix cache, or computed in a lane reusing the cached prefix's key/value
        cache, hidden states and head answers to the token, then published to the cache."""
        array = np.asarray(ids, dtype=np.int64)
        claim = self.prefix_cache.claim(array, self._free if self._lanes.count > 1 else None)
        if claim.flight is None:
            assert isinstance(claim.best, Cached)
            return claim.best, None if top_k is None or wanted is None else self._answered(claim.best, top_k, wanted)
        head = None
        try:
            with self._lanes.lane():
                entry, computed = self._computed(array, claim.best, claim.shared, claim.flight)
                if top_k is not None and wanted is not None and claim.source is None:
                    head = self._scored(entry, top_k, wanted)
            if top_k is not None and wanted is not None and claim.source is not None:
                self.prefix_cache.wake()
                claim.source.done.wait()
                carry_head(entry, claim.source.entry, claim.source_shared)
                with self._lanes.lane():
                    head = self._scored(entry, top_k, wanted)
        except BaseException:
            self.prefix_cache.abandon(claim.flight)
            raise
        self.prefix_cache.publish(claim.flight, entry, computed)
        return entry, head

    def _computed(self, array: npt.NDArray[np.int64], best: Cached | Progress | None, shared: int,
                  flight: Flight) -> tuple[Cached, int]:
        """``array``'s entry (``flight``), reusing ``shared`` tokens of ``best`` (with its head answers, once
        complete), and the tokens computed.

        At least ``MIN_ROWS`` positions are left to compute (and to score), and rows are reused only from passes
        of ``MIN_ROWS`` or more, so results are bit-for-bit the same whatever the cache held.
        """
        reused = reusable(shared, len(array)) if best is not None else 0
        if best is None or not reused:
            cache = DynamicCache(config=self.model.config)
            return Cached(array, cache, self._extend(cache, array, 0, flight)), len(array)
        cache = cropped(best.kv(), reused, self.model.config)
        entry = Cached(array, cache, self._extend(cache, array, reused, flight, best.hidden[:reused]))
        if isinstance(best, Cached):
            carry_head(entry, best, shared)
        return entry, len(array) - reused

    def _scored(self, entry: Cached, top_k: int, wanted: torch.Tensor) -> HeadAnswers:
        """The head's answers for ``entry``'s ``wanted`` rows (every position but the last), computed after those
        it holds, into its own head (``entry`` is not published yet)."""
        rows = len(entry.ids) - 1
        if entry.head is None or entry.head.top_k != top_k:
            entry.head = HeadAnswers.empty(rows, top_k)
        entry.head.answer(self._log_softmax, entry.hidden[:rows], torch.from_numpy(entry.ids[1:]), wanted,
                          self._head_rows)
        return entry.head

    def _answered(self, entry: Cached, top_k: int, wanted: torch.Tensor) -> HeadAnswers:
        """The head's answers for a published ``entry``'s ``wanted`` rows: its own if it holds them all, else a
        copy with the rest computed, which replaces it (a published head is never written)."""
        head = entry.head
        if head is not None and head.top_k == top_k and not bool((wanted & ~head.done).any()):
            return head
        rows = len(entry.ids) - 1
        fresh = HeadAnswers.empty(rows, top_k) if head is None or head.top_k != top_k else head.carried(rows, rows)
        with self._lanes.lane():
            fresh.answer(self._log_softmax, entry.hidden[:rows], torch.from_numpy(entry.ids[1:]), wanted,
                         self._head_rows)
        self.prefix_cache.answered(entry, fresh)
        return fresh

    def _free(self) -> bool:
        """Whether a lane is free to compute."""
        return self._lanes.busy < self._lanes.count

    def _extend(self, cache: DynamicCache, array: npt.NDArray[np.int64], start: int, flight: Flight,
                prefix: torch.Tensor | None = None) -> torch.Tensor:
        """Final hidden states of ``array`` (``flight``): ``prefix``'s for the ``start`` positions ``cache`` holds,
        then computed in passes (:func:`next_pass`; ``cache`` grows), each published as the flight's progress when
        there are other lanes. A pass ends early where a prompt waiting on this one can start, when a lane is free
        to compute it."""
        ids, decoder, done = array.tolist(), self.model.get_decoder(), start
        passes = [] if prefix is None else [prefix]
        while done < len(ids):
            size = next_pass(len(ids) - done, done, self.prefix_cache.needs(flight) if self._free() else ())
            passes.append(decoder(torch.tensor([ids[done:done + size]]), past_key_values=cache,
                                  use_cache=True).last_hidden_state[0])
            done += size
            if self.prefix_cache.enabled and self._lanes.count > 1:
                self.prefix_cache.progressed(flight, Progress(array[:done], kv_of(cache), torch.cat(passes)))
        return torch.cat(passes)

