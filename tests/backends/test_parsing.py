"""Prompt-logprob bodies parsed into arrays: the same numbers as a plain json walk, clear errors otherwise."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from memscore_core.backends.parsing import parse_chat_body
from memscore_core.bench.client import stdlib_parse
from memscore_core.errors import ResponseFormatError

CAPTURES = Path(__file__).parents[1] / "data" / "vllm-0.32-captures"


def _chat_bodies() -> list[str]:
    bodies = (p for p in CAPTURES.glob("*.json") if not p.name.endswith(".request.json"))
    return sorted(p.name for p in bodies if (b := json.loads(p.read_bytes())) and isinstance(b, dict)
                  and b.get("prompt_logprobs"))


@pytest.mark.parametrize("name", _chat_bodies())
def test_every_captured_body_parses_to_the_same_arrays_as_the_standard_library(name: str) -> None:
    body = (CAPTURES / name).read_bytes()
    ours, plain = parse_chat_body(body), stdlib_parse(body)
    np.testing.assert_array_equal(ours.token_ids[1:], plain.token_ids[1:])
    np.testing.assert_array_equal(ours.logprobs[1:], plain.logprobs[1:])
    assert (ours.tokens, ours.prompt_tokens) == (plain.tokens, plain.prompt_tokens)


def test_the_first_token_id_comes_from_prompt_token_ids_when_the_server_sends_them() -> None:
    body = b'{"prompt_logprobs":[null,{"7":{"logprob":-1.5}}],"prompt_token_ids":[3,7]}'
    assert parse_chat_body(body).token_ids.tolist() == [3, 7]


def test_with_prompt_token_ids_the_actual_token_is_found_wherever_the_entry_lists_it() -> None:
    body = b'{"prompt_logprobs":[null,{"4":{"logprob":-0.1},"7":{"logprob":-1.5}}],"prompt_token_ids":[3,7]}'
    assert parse_chat_body(body).logprobs[1:].tolist() == [-1.5]


def test_prompt_token_ids_that_disagree_with_the_logprob_keys_are_rejected() -> None:
    body = b'{"prompt_logprobs":[null,{"7":{"logprob":-1.5}}],"prompt_token_ids":[3,8]}'
    with pytest.raises(ResponseFormatError, match="disagree"):
        parse_chat_body(body)


@pytest.mark.parametrize(("body", "message"), [
    (b'{"prompt_logprobs":[null,{"7":{"logprob":-1.5}', "not valid JSON"),
    (b'{"choices":[]}', "no prompt_logprobs"),
    (b'{"prompt_logprobs":[null,{}]}', "entry 1"),
    (b'{"prompt_logprobs":[null,{"7":{"logprob":-1.5}},null]}', "entry 2"),
    (b'{"prompt_logprobs":[null,{"7":{"logprob":-1.5}},null],"prompt_token_ids":[3,7,9]}', "entry 2"),
    (b'{"prompt_logprobs":[null,{}],"prompt_token_ids":[3,7]}', "entry 1"),
    (b'{"prompt_logprobs":[null,{"7":{"logprob":-1.5}}],"prompt_token_ids":[3]}', "1 ids but prompt_logprobs 2"),
    (b'{"prompt_logprobs":[null,{"7":{"logprob":"low"}}]}', "unexpected response shape"),
    (b'[1, 2]', "unexpected response shape"),
])
def test_malformed_bodies_raise_a_format_error_saying_what_is_wrong(body: bytes, message: str) -> None:
    with pytest.raises(ResponseFormatError, match=message):
        parse_chat_body(body)
