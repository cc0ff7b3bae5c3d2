"""`memscore ui` over HTTP: what it refuses, what it escapes, what a 404 says; a real server on loopback."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from memscore_core.store import Store
from memscore_core.store.downstream import list_candidates
from tests.support.ui_server import RunningUi, ui_server
from tests.ui.conftest import QUOTE_KEY, SCRIPT_KEY, TRICKY_ID


@pytest.fixture(scope="module")
def ui(scored_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningUi]:
    with ui_server(scored_corpus, tmp_path_factory.mktemp("ui-log")) as running:
        yield running


def csrf_of(page: str) -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
    assert found
    return found.group(1)


def statuses(db: Path) -> dict[int, str]:
    """Every candidate's status, read through the store (under its lock, as the running UI reads it)."""
    return {c.candidate_id: c.status for c in list_candidates(Store(db))}


def test_an_unknown_memory_key_is_a_404_page_naming_it(ui: RunningUi) -> None:
    answer = httpx.get(f"{ui.url}/memories/{quote('no/such key', safe='')}")
    assert answer.status_code == 404
    assert "error: no memory with key &#39;no/such key&#39;" in answer.text


def test_an_unknown_conversation_id_is_a_404_page_naming_it(ui: RunningUi) -> None:
    answer = httpx.get(f"{ui.url}/conversations/nobody-123")
    assert answer.status_code == 404
    assert "error: no scores for conversation &#39;nobody-123&#39;" in answer.text


def test_a_malformed_date_filter_is_a_400_page_naming_it(ui: RunningUi) -> None:
    answer = httpx.get(f"{ui.url}/?since=yesterday")
    assert answer.status_code == 400 and "since: &#39;yesterday&#39; is not a date" in answer.text


@pytest.mark.parametrize("key", [SCRIPT_KEY, QUOTE_KEY])
def test_a_memory_key_with_html_or_quotes_is_escaped_on_every_page_and_its_link_leads_to_it(ui: RunningUi,
                                                                                          key: str) -> None:
    pages = [httpx.get(f"{ui.url}/?prefix={quote(key, safe='')}").text,
             httpx.get(f"{ui.url}/conversations/{quote(TRICKY_ID, safe='')}").text]
    memory = httpx.get(f"{ui.url}/memories/{quote(key, safe='')}")
    assert memory.status_code == 200
    for text in [*pages, memory.text]:
        assert "<script>document" not in text and 'content="pwned"' not in text
    assert f'<code id="memory-key">{escaped(key)}</code>' in memory.text
    link = f'href="/memories/{quote(key, safe="")}'
    assert link in pages[0] and link + '"' in pages[1]


def escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;") \
        .replace("'", "&#39;")


def test_a_conversation_id_with_html_and_quotes_is_shown_as_text(ui: RunningUi) -> None:
    answer = httpx.get(f"{ui.url}/conversations/{quote(TRICKY_ID, safe='')}")
    assert answer.status_code == 200
    assert f'<code id="conversation-id">{escaped(TRICKY_ID)}</code>' in answer.text and "<i>x</i>" not in answer.text


def test_a_decision_without_the_pages_csrf_token_is_refused_and_changes_nothing(scored_corpus: Path,
                                                                                ui: RunningUi) -> None:
    httpx.get(f"{ui.url}/review")
    before = statuses(scored_corpus)
    candidate = next(iter(before))
    answer = httpx.post(f"{ui.url}/review/decide", data={"candidate_id": candidate, "decision": "approve",
                                                          "csrf": "guessed"})
    assert answer.status_code == 403 and "CSRF token is missing or wrong" in answer.text
    assert statuses(scored_corpus) == before


def test_a_decision_from_another_origin_is_refused_even_with_the_token(scored_corpus: Path, ui: RunningUi) -> None:
    token = csrf_of(httpx.get(f"{ui.url}/review").text)
    before = statuses(scored_corpus)
    answer = httpx.post(f"{ui.url}/review/decide", headers={"Origin": "http://evil.example"},
                        data={"candidate_id": next(iter(before)), "decision": "reject", "csrf": token})
    assert answer.status_code == 403 and statuses(scored_corpus) == before


def test_a_decision_for_a_vanished_candidate_says_so_and_changes_nothing(scored_corpus: Path, ui: RunningUi) -> None:
    token = csrf_of(httpx.get(f"{ui.url}/review").text)
    before = statuses(scored_corpus)
    answer = httpx.post(f"{ui.url}/review/decide", headers={"Accept": "application/json"},
                        data={"candidate_id": 987654, "decision": "approve", "csrf": token})
    assert answer.status_code == 404
    assert answer.json() == {"error": f"no candidate with id 987654: it is gone from {scored_corpus}; nothing changed"}
    assert statuses(scored_corpus) == before


def test_on_loopback_a_request_naming_another_host_is_refused(ui: RunningUi) -> None:
    answer = httpx.get(f"{ui.url}/", headers={"Host": "attacker.example"})
    assert answer.status_code == 400 and "not this machine's loopback address" in answer.text


def test_off_loopback_it_prints_a_token_and_answers_only_requests_that_carry_it(scored_corpus: Path,
                                                                               tmp_path: Path) -> None:
    with ui_server(scored_corpus, tmp_path, host="0.0.0.0") as ui:
        assert ui.token and ui.printed.endswith(f"/?token={ui.token}")
        assert httpx.get(f"{ui.url}/").status_code == 401
        assert httpx.get(f"{ui.url}/?token=wrong").status_code == 401
        first = httpx.get(f"{ui.url}/?token={ui.token}&prefix=work")
        assert first.status_code == 303 and first.headers["location"] == "/?prefix=work"
        assert "HttpOnly" in first.headers["set-cookie"] and "SameSite=strict" in first.headers["set-cookie"]
        assert httpx.get(f"{ui.url}/", cookies=first.cookies).status_code == 200
        assert httpx.get(f"{ui.url}/", headers={"Authorization": f"Bearer {ui.token}"}).status_code == 200


def test_a_token_given_in_the_environment_is_required_on_loopback_too(scored_corpus: Path, tmp_path: Path) -> None:
    with ui_server(scored_corpus, tmp_path, env={"MEMSCORE_UI_TOKEN": "s3cret"}) as ui:
        assert ui.token == "s3cret"
        assert httpx.get(f"{ui.url}/").status_code == 401
        assert httpx.get(f"{ui.url}/", headers={"Authorization": "Bearer s3cret"}).status_code == 200
