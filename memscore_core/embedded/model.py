"""A causal language model in-process: chat rendering, prompt log-probabilities, greedy generation.

Prompt log-probabilities reuse the key/value cache of the prefix shared with a recent prompt (memscore's
ablations share everything before the removed memory), in whole ``PREFILL_SLICE`` slices, so only the rest
is computed and the results are bit-for-bit those of a full recompute.
Memory stays proportional to the prompt, never to prompt × vocabulary or prompt²: a cache entry keeps the
final hidden states (not log-softmax rows), the model runs ``PREFILL_SLICE`` tokens per pass, and the
output head computes about ``HEAD_ELEMENTS`` log-probabilities per pass.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache
from transformers.utils import logging as transformers_logging

from memscore_core.embedded.detokenize import decode_in_context, token_bytes

NEG_INF = -9999.0
PREFILL_SLICE = 256
HEAD_ELEMENTS = 1 << 17


@dataclass
class _Cached:
    ids: npt.NDArray[np.int64]
    cache: DynamicCache
    hidden: torch.Tensor  # [T, hidden size] final hidden states; row i predicts token i + 1


@dataclass(frozen=True)
class PromptLogprobs:
    """Per position i ≥ 1: the actual token's log-prob and rank, and the top-k (ids, log-probs)."""

    token_ids: list[int]
    logprobs: npt.NDArray[np.float32]
    ranks: npt.NDArray[np.int64]
    top_ids: npt.NDArray[np.int64]
    top_logprobs: npt.NDArray[np.float32]
    decoded: list[str]
    top_decoded: list[list[str]]


class LocalModel:
    """A transformers model and tokenizer from ``model_dir``; thread-safe, one computation at a time.

    The prefix cache keeps the last ``cache_entries`` prompts: the latest, whose greedy next token is asked for
    right after its scoring, and the one before it.
    """

    def __init__(self, model_dir: Path, *, threads: int = 1, prefix_cache: bool = True, cache_entries: int = 2,
                 name: str | None = None) -> None:
        torch.set_num_threads(threads)
        transformers_logging.disable_progress_bar()
        self.model_dir = Path(model_dir)
        self.name = name or self.model_dir.name
        self.tokenizer: Any = AutoTokenizer.from_pretrained(self.model_dir)
        self.model: Any = AutoModelForCausalLM.from_pretrained(self.model_dir, dtype=torch.float32).eval()
        self._head_slice = max(1, HEAD_ELEMENTS // int(self.model.config.vocab_size))
        self.prefix_cache = prefix_cache
        self._cache_entries = cache_entries
        self._recent: OrderedDict[int, _Cached] = OrderedDict()
        self._lock = threading.Lock()
        self.computed_tokens = 0
        self.reused_tokens = 0
        special = set(self.tokenizer.all_special_ids) | {
            i for i, t in self.tokenizer.added_tokens_decoder.items() if t.special}
        vocab = self.tokenizer.convert_ids_to_tokens(list(range(len(self.tokenizer))))
        self._bytes = [token_bytes(piece or "", i in special) for i, piece in enumerate(vocab)]
        self._bytes += [b""] * max(0, int(self.model.config.vocab_size) - len(self._bytes))
        self.eos_ids = {i for i in (self.tokenizer.convert_tokens_to_ids("<|im_end|>"), self.tokenizer.eos_token_id)
                        if isinstance(i, int) and i >= 0}

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

    def prompt_logprobs(self, ids: list[int], top_k: int) -> PromptLogprobs:
        """Log-probabilities of every prompt token after the first, with ranks and the top ``top_k``."""
        hidden = self._hidden(ids)[: len(ids) - 1]
        actual = torch.tensor(ids[1:], dtype=torch.long)
        with torch.inference_mode():
            parts = [self._score_slice(h, a, max(top_k, 0))
                     for h, a in zip(hidden.split(self._head_slice), actual.split(self._head_slice), strict=True)]
        chosen, ranks, top_lp, top_ids = (torch.cat(column) for column in zip(*parts, strict=True))
        top = top_ids.numpy()
        decoded, pending = decode_in_context([self._bytes[i] for i in ids])
        return PromptLogprobs(token_ids=ids, logprobs=_finite(chosen.numpy()), ranks=ranks.numpy(), top_ids=top,
                              top_logprobs=_finite(top_lp.numpy()), decoded=decoded,
                              top_decoded=[[_alternative(pending[i], self._bytes[int(t)]) for t in row]
                                           for i, row in enumerate(top, start=1)])

    def next_token(self, ids: list[int]) -> int:
        """The greedy next token after ``ids`` (from the prefix cache when the prompt was just scored)."""
        with torch.inference_mode():
            return int(self._log_softmax(self._hidden(ids)[-1:])[0].argmax())

    def generate(self, ids: list[int], max_tokens: int) -> tuple[list[int], str]:
        """Greedy continuation; stops at ``<|im_end|>`` or end of text. Returns (ids, finish reason)."""
        with self._lock, torch.inference_mode():
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

    def _score_slice(self, hidden: torch.Tensor, actual: torch.Tensor, top_k: int
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Each position's log-prob of ``actual`` and its rank, and the top ``top_k`` (log-probs, ids)."""
        rows = self._log_softmax(hidden)
        chosen = rows.gather(1, actual[:, None])[:, 0]
        ranks = (rows > chosen[:, None]).sum(dim=1) + 1
        top_lp, top_ids = rows.topk(top_k, dim=1)
        return chosen, ranks, top_lp, top_ids

    def _log_softmax(self, hidden: torch.Tensor) -> torch.Tensor:
        """Float32 log-softmax over the vocabulary of the output head applied to final hidden states."""
        return torch.log_softmax(self.model.get_output_embeddings()(hidden).float(), dim=-1)

    def _hidden(self, ids: list[int]) -> torch.Tensor:
        """Final hidden states of every position, reusing the cached prefix's whole prefill slices.

        Reuse stops at a multiple of ``PREFILL_SLICE``, so every slice is computed exactly as a full recompute
        computes it: results are bit-for-bit the same whatever the cache held.
        """
        array = np.asarray(ids, dtype=np.int64)
        with self._lock, torch.inference_mode():
            best, shared = self._longest_prefix(array)
            if best is not None and shared == len(ids) == len(best.ids):
                self.reused_tokens += shared
                return best.hidden
            reused = shared - shared % PREFILL_SLICE
            if best is None or reused == 0:
                cache = DynamicCache(config=self.model.config)
                hidden = self._extend(cache, ids)
            else:
                cache = _cropped(best.cache, reused, self.model.config)
                hidden = torch.cat([best.hidden[:reused], self._extend(cache, ids[reused:])])
            self.reused_tokens += reused
            self.computed_tokens += len(ids) - reused
            if self.prefix_cache:
                self._remember(_Cached(array, cache, hidden))
            return hidden

    def _extend(self, cache: DynamicCache, ids: list[int]) -> torch.Tensor:
        """Final hidden states of ``ids`` following what ``cache`` holds (which grows), a slice per pass."""
        decoder = self.model.get_decoder()
        return torch.cat([decoder(torch.tensor([ids[start:start + PREFILL_SLICE]]), past_key_values=cache,
                                  use_cache=True).last_hidden_state[0]
                          for start in range(0, len(ids), PREFILL_SLICE)])

    def _longest_prefix(self, ids: npt.NDArray[np.int64]) -> tuple[_Cached | None, int]:
        best, shared = None, 0
        for entry in self._recent.values():
            n = min(len(ids), len(entry.ids))
            differ = np.flatnonzero(entry.ids[:n] != ids[:n])
            common = int(differ[0]) if len(differ) else n
            if common > shared:
                best, shared = entry, common
        return best, shared

    def _remember(self, entry: _Cached) -> None:
        key = hash(entry.ids.tobytes())
        self._recent.pop(key, None)
        self._recent[key] = entry
        while len(self._recent) > self._cache_entries:
            self._recent.popitem(last=False)


def _cropped(cache: DynamicCache, length: int, config: Any) -> DynamicCache:
    """A new cache holding the first ``length`` positions of ``cache`` (the original is left intact)."""
    layers = [(layer.keys[:, :, :length].clone(), layer.values[:, :, :length].clone())  # type: ignore[union-attr,index]
              for layer in cache.layers]
    return DynamicCache(ddp_cache_data=layers, config=config)


def _alternative(pending: bytes, piece: bytes) -> str:
    """A top-k alternative's text: what it adds to the pending bytes (``""`` while a character is incomplete)."""
    before = pending.decode("utf-8", errors="replace")
    text = (pending + piece).decode("utf-8", errors="replace")
    new = text[len(before):] if text.startswith(before) else text
    return "" if new.endswith("\ufffd") else new


def _finite(values: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """vLLM sends -inf as -9999.0."""
    return np.where(np.isneginf(values), np.float32(NEG_INF), values).astype(np.float32)
