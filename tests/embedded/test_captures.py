"""Every captured real-vLLM exchange, replayed against the local app over the same model, answers the same."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from memscore_core.embedded.model import LocalModel
from tests.embedded.conftest import CAPTURES, call

REPLAYABLE = sorted(path for path in CAPTURES.glob("*.request.json")
                    if json.loads(path.read_text())["status"] != 403  # the render endpoint is not served
                    and "echo" not in json.loads(path.read_text())["body"]  # echo log-probs are not served
                    and path.with_name(path.name.replace(".request.json", ".json")).exists())


def _prompt_logprobs(body: dict[str, Any]) -> list[Any] | None:
    if "prompt_logprobs" in body:
        return body["prompt_logprobs"]  # type: ignore[no-any-return]
    choices = body.get("choices") or [{}]
    return choices[0].get("prompt_logprobs")  # type: ignore[no-any-return]


@pytest.mark.parametrize("request_file", REPLAYABLE, ids=[p.name.removesuffix(".request.json") for p in REPLAYABLE])
def test_a_captured_exchange_replays_identically(capture_model: LocalModel, request_file: Path) -> None:
    captured = json.loads(request_file.read_text())
    want = json.loads(request_file.with_name(request_file.name.replace(".request.json", ".json")).read_text())
    response = call(capture_model, "POST", captured["path"], captured["body"])
    got = response.json()
    assert response.status_code == captured["status"]
    if captured["status"] != 200:
        assert got == want
        return
    assert set(got) == set(want)
    for key in ("tokens", "count", "token_strs", "prompt_token_ids"):
        assert got.get(key) == want.get(key)
    got_lp, want_lp = _prompt_logprobs(got), _prompt_logprobs(want)
    if want_lp is None:
        return
    assert got_lp is not None and len(got_lp) == len(want_lp) and got_lp[0] is None
    for position, (g, w) in enumerate(zip(got_lp[1:], want_lp[1:], strict=True), start=1):
        assert list(g) == list(w), f"token ids at position {position}"
        for token, info in w.items():
            assert (g[token]["rank"], g[token]["decoded_token"]) == (info["rank"], info["decoded_token"])
            assert g[token]["logprob"] == pytest.approx(info["logprob"], abs=1e-4)


def test_the_overlong_prompt_is_rejected_with_vllms_context_length_message(capture_model: LocalModel) -> None:
    want = json.loads((CAPTURES / "f_overlong_chat.json").read_text())
    messages = json.loads((CAPTURES / "e_long_messages.input.json").read_text())
    body = {"model": "capture-model", "messages": messages * 40, "max_tokens": 1, "prompt_logprobs": 0}
    response = call(capture_model, "POST", "/v1/chat/completions", body)
    assert response.status_code == 400
    assert "maximum context length is 4096 tokens" in response.json()["error"]["message"]
    assert response.json()["error"]["type"] == want["error"]["type"]
