"""``memscore_scored_roles``: the embedded server computes prompt log-probs only in the messages asked for, and the
numbers it does compute are bit-for-bit those of a request for every position."""

from __future__ import annotations

from typing import Any

from memscore_core.embedded.app import ServerOptions
from memscore_core.embedded.model import LocalModel
from tests.embedded.conftest import call

MESSAGES = [{"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "The dog is called Biscuit."},
            {"role": "assistant", "content": "Noted: Biscuit."},
            {"role": "user", "content": "The cat is called Miso. What is the dog called?"},
            {"role": "assistant", "content": "The dog is called Biscuit, the cat Miso."}]


def scoring_body(**extra: Any) -> dict[str, Any]:
    return {"messages": MESSAGES, "max_tokens": 1, "prompt_logprobs": 2, "add_generation_prompt": False,
            "return_token_ids": True, **extra}


def actual(entries: list[Any]) -> list[dict[str, Any]]:
    return [next(iter(entry.values())) for entry in entries[1:]]


def assistant_positions(model: LocalModel, ids: list[int]) -> set[int]:
    """Positions from each ``<|im_start|>assistant`` to the next message's start."""
    text = model.decode(ids)
    starts = [i for i, piece in enumerate(text) if piece == "<|im_start|>"] + [len(ids)]
    return {i for start, end in zip(starts, starts[1:], strict=False)
            if "".join(text[start + 1:end]).startswith("assistant\n") for i in range(start, end)}


def test_the_model_card_says_the_server_scores_only_the_roles_asked_for(capture_model: LocalModel) -> None:
    cards = call(capture_model, "GET", "/v1/models").json()["data"]
    assert [card["memscore_scored_roles"] for card in cards] == [True]


def test_only_the_assistant_messages_carry_log_probs_and_they_equal_a_full_request_bit_for_bit(
        capture_model: LocalModel) -> None:
    full = call(capture_model, "POST", "/v1/chat/completions", scoring_body()).json()
    capture_model.prefix_cache.clear()
    hinted = call(capture_model, "POST", "/v1/chat/completions",
                  scoring_body(memscore_scored_roles=["assistant"])).json()
    assert hinted["prompt_token_ids"] == full["prompt_token_ids"]
    wanted = assistant_positions(capture_model, hinted["prompt_token_ids"])
    for position, (mine, theirs) in enumerate(zip(hinted["prompt_logprobs"][1:], full["prompt_logprobs"][1:],
                                                  strict=True), start=1):
        if position in wanted:
            assert mine == theirs
        else:
            assert list(mine.values()) == [{"logprob": None, "rank": None,
                                             "decoded_token": actual([None, theirs])[0]["decoded_token"]}]
    assert 0 < len(wanted) < len(hinted["prompt_token_ids"]) - 1


def test_a_server_answering_every_position_says_so_and_ignores_the_field(capture_model: LocalModel) -> None:
    every = ServerOptions(scored_roles=False)
    cards = call(capture_model, "GET", "/v1/models", options=every).json()["data"]
    body = call(capture_model, "POST", "/v1/chat/completions", scoring_body(memscore_scored_roles=["assistant"]),
                options=every).json()
    assert cards[0]["memscore_scored_roles"] is False
    assert all(entry["logprob"] is not None for entry in actual(body["prompt_logprobs"]))


def test_a_prompt_without_chat_messages_is_scored_at_every_position(capture_model: LocalModel) -> None:
    ids = capture_model.encode("plain text, no chat template at all")
    assert capture_model.role_positions(ids, ["assistant"]) is None
