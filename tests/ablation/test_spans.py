"""Response spans: the default ChatML walker on real vLLM captures, and the seed walker's quirks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from memscore_core.ablation.spans import message_spans
from memscore_core.backends.parsing import parse_chat_body
from memscore_core.errors import SpanError
from memscore_core.model.prompt import ScoredPrompt
from memscore_core.strategies.seed import seed_walk

CAPTURES = Path(__file__).parents[1] / "data" / "vllm-0.32-captures"
TOKENIZER = Tokenizer.from_file(str(CAPTURES.parent / "capture-model" / "tokenizer.json"))


def _chat_captures() -> list[str]:
    names = []
    for request_file in sorted(CAPTURES.glob("*.request.json")):
        request = json.loads(request_file.read_text())
        body_file = CAPTURES / request_file.name.replace(".request.json", ".json")
        if (request["path"] == "/v1/chat/completions" and request["status"] == 200
                and "prompt_logprobs" in request["body"] and body_file.exists()):
            names.append(body_file.name.removesuffix(".json"))
    return names


@pytest.mark.parametrize("name", _chat_captures())
def test_every_chat_capture_splits_into_the_sent_messages_and_their_responses(name: str) -> None:
    request = json.loads((CAPTURES / f"{name}.request.json").read_text())["body"]
    scored = parse_chat_body((CAPTURES / f"{name}.json").read_bytes())
    messages = request["messages"]

    spans = message_spans(scored, [m["role"] for m in messages])

    for message, span in zip(messages, spans, strict=True):
        if message["role"] == "assistant":
            expected = message["content"].split("</think>")[-1]
            assert TOKENIZER.decode(scored.token_ids[span.response].tolist(), skip_special_tokens=False) == expected
        else:
            assert span.response.size == 0


def test_captures_cover_generation_prompt_continue_final_think_and_token_ids() -> None:
    names = set(_chat_captures())
    assert {"a_chat_prompt_logprobs1", "a2_chat_prompt_logprobs1_nogenprompt",
            "a3_chat_prompt_logprobs1_continue_final",
            "g_think_history", "h_chat_return_token_ids", "i_nonascii_chat"} <= names


def _stream(tokens: list[str]) -> ScoredPrompt:
    import numpy as np

    return ScoredPrompt(np.arange(len(tokens), dtype=np.int64), -np.arange(len(tokens), dtype=np.float64),
                        [None, *tokens[1:]], len(tokens))


USER_SAYS_ASSISTANT = ["<|im_start|>", "user", "\n", "assistant", " hi", "<|im_end|>", "\n",
                       "<|im_start|>", "assistant", "\n", "Yes", "<|im_end|>", "\n"]
EMPTY_RESPONSE = ["<|im_start|>", "user", "\n", "Q", "<|im_end|>", "\n",
                  "<|im_start|>", "assistant", "\n", "<|im_end|>", "\n",
                  "<|im_start|>", "user", "\n", "Q", "<|im_end|>", "\n",
                  "<|im_start|>", "assistant", "\n", "A", "<|im_end|>", "\n"]
THINK_ONLY = ["<|im_start|>", "user", "\n", "Q", "<|im_end|>", "\n",
              "<|im_start|>", "assistant", "\n", "<think>", "hm", "</think>", "<|im_end|>", "\n",
              "<|im_start|>", "user", "\n", "Q", "<|im_end|>", "\n",
              "<|im_start|>", "assistant", "\n", "A", "<|im_end|>", "\n"]


def test_seed_walker_treats_a_bare_assistant_token_in_a_user_message_as_a_response() -> None:
    stream = _stream(USER_SAYS_ASSISTANT)
    assert seed_walk(stream.tokens, stream.logprobs.tolist()) == [[-4.0], [-10.0]]


def test_default_walker_ignores_assistant_tokens_inside_user_messages() -> None:
    spans = message_spans(_stream(USER_SAYS_ASSISTANT), ["user", "assistant"])
    assert [span.response.tolist() for span in spans] == [[], [10]]


def test_seed_walker_drops_an_empty_response_and_shifts_the_next_one() -> None:
    stream = _stream(EMPTY_RESPONSE)
    assert seed_walk(stream.tokens, stream.logprobs.tolist()) == [[-20.0]]


def test_default_walker_keeps_an_empty_response_as_zero_length() -> None:
    spans = message_spans(_stream(EMPTY_RESPONSE), ["user", "assistant", "user", "assistant"])
    assert [span.response.tolist() for span in spans if span.role == "assistant"] == [[], [20]]


def test_seed_walker_drops_a_think_only_response() -> None:
    stream = _stream(THINK_ONLY)
    assert seed_walk(stream.tokens, stream.logprobs.tolist()) == [[-23.0]]


def test_default_walker_keeps_a_think_only_response_as_zero_length() -> None:
    spans = message_spans(_stream(THINK_ONLY), ["user", "assistant", "user", "assistant"])
    assert [span.response.tolist() for span in spans if span.role == "assistant"] == [[], [23]]


def test_default_walker_rejects_a_stream_that_does_not_match_the_sent_roles() -> None:
    with pytest.raises(SpanError, match=r"has messages \['user', 'assistant'\], but \['user', 'user'\] were sent"):
        message_spans(_stream(USER_SAYS_ASSISTANT), ["user", "user"])


# Qwen2.5 and Qwen3 render a tool message as a user block and a run of tool messages as one block.
MERGED_TOOLS = ["<|im_start|>", "user", "\n", "Q", "<|im_end|>", "\n",
                "<|im_start|>", "user", "\n", "<tool_response>", "a", "</tool_response>",
                "<tool_response>", "b", "</tool_response>", "<|im_end|>", "\n",
                "<|im_start|>", "assistant", "\n", "A", "<|im_end|>", "\n"]
# Qwen3 renders reasoning as "<think>\n…\n</think>\n\n" before the content.
QWEN3_THINK = ["<|im_start|>", "user", "\n", "Q", "<|im_end|>", "\n",
               "<|im_start|>", "assistant", "\n", "<think>", "\n", "hm", "\n", "</think>", "\n\n", "A", "<|im_end|>",
               "\n"]


def test_a_run_of_tool_messages_rendered_as_one_user_block_maps_to_each_tool_message() -> None:
    spans = message_spans(_stream(MERGED_TOOLS), ["user", "tool", "tool", "assistant"])
    assert [span.role for span in spans] == ["user", "tool", "tool", "assistant"]
    assert spans[-1].response.tolist() == [20]


def test_tool_messages_rendered_as_separate_user_blocks_map_one_to_one() -> None:
    stream = _stream(EMPTY_RESPONSE)
    spans = message_spans(stream, ["tool", "assistant", "tool", "assistant"])
    assert [span.response.tolist() for span in spans if span.role == "assistant"] == [[], [20]]


def test_a_user_message_never_merges_into_a_tool_block() -> None:
    with pytest.raises(SpanError):
        message_spans(_stream(MERGED_TOOLS), ["user", "user", "tool", "assistant"])


def test_the_whitespace_a_template_puts_after_the_think_block_is_not_part_of_the_response() -> None:
    spans = message_spans(_stream(QWEN3_THINK), ["user", "assistant"])
    assert spans[-1].response.tolist() == [15]
