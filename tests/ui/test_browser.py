"""`memscore ui` in a real headless Chromium: from the overview to a memory and a conversation, and review by
keyboard whose decisions the store and the next `memscore export` carry."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
from playwright.sync_api import Page, expect

from memscore_core.store import Store
from memscore_core.store.downstream import list_candidates
from tests.support.browser import chromium
from tests.support.ui_server import ui_server
from tests.ui.conftest import SCRIPT_KEY, memscore


def statuses(db: Path) -> dict[int, str]:
    """Every candidate's status, read through the store (under its lock, as the running UI reads it)."""
    return {c.candidate_id: c.status for c in list_candidates(Store(db))}


def test_the_overview_links_to_a_memory_whose_page_links_to_a_conversation(store_copy: Path, tmp_path: Path) -> None:
    with ui_server(store_copy, tmp_path) as ui, chromium() as browser:
        page = browser.new_page()
        page.goto(ui.url + "/")
        expect(page.locator("#activity-chart .main-svg").first).to_be_visible()
        first = page.locator("#top-memories a.memory").first
        key = first.inner_text()
        first.click()
        expect(page.locator("#memory-key")).to_have_text(key)
        expect(page.locator("#timeline-chart .main-svg").first).to_be_visible()
        link = page.locator("#memory-responses a.conversation").first
        conversation_id = link.inner_text()
        link.click()
        expect(page.locator("#conversation-id")).to_have_text(conversation_id)
        expect(page.locator("#heatmap-chart .main-svg").first).to_be_visible()
        expect(page.locator("#responses li").first).to_be_visible()


def test_a_memory_key_holding_a_script_shows_as_text_and_runs_nothing(store_copy: Path, tmp_path: Path) -> None:
    with ui_server(store_copy, tmp_path) as ui, chromium() as browser:
        page = browser.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: dialogs.append(dialog.message))
        page.goto(ui.url + "/?prefix=%3Cscript")
        page.locator("#top-memories a.memory").first.click()
        expect(page.locator("#memory-key")).to_have_text(SCRIPT_KEY)
        page.wait_for_load_state("networkidle")
        assert page.title() != "pwned" and not dialogs


def test_keys_j_a_and_r_approve_and_reject_candidates_and_the_sft_export_follows(store_copy: Path,
                                                                                 tmp_path: Path) -> None:
    with ui_server(store_copy, tmp_path) as ui, chromium() as browser:
        page: Page = browser.new_page()
        page.goto(ui.url + "/review")
        items = page.locator("li.candidate")
        approved, rejected = (int(items.nth(i).get_attribute("data-candidate") or "") for i in (0, 2))
        page.keyboard.press("a")
        expect(items.nth(0)).to_have_attribute("data-status", "approved")
        page.keyboard.press("j")
        expect(items.nth(2)).to_have_class("candidate selected")
        page.keyboard.press("r")
        expect(items.nth(2)).to_have_attribute("data-status", "rejected")
        expect(items.nth(1)).to_have_attribute("data-status", "pending")
    after = statuses(store_copy)
    assert after[approved] == "approved" and after[rejected] == "rejected"
    assert sorted(status for status in after.values() if status != "pending") == ["approved", "rejected"]
    done = memscore("export", "--format", "sft", "--approved-only", "--db", str(store_copy), "--out",
                    str(tmp_path / "exports"), "--name", "reviewed")
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in (tmp_path / "exports" / "reviewed" / "train.jsonl").open()]
    with duckdb.connect(str(store_copy), read_only=True) as con:
        exported = [row[0] for row in con.execute("SELECT candidate_id FROM export_items").fetchall()]
    assert exported == [approved] and len(records) == 1
    everything = memscore("export", "--format", "sft", "--db", str(store_copy), "--out", str(tmp_path / "exports"),
                          "--name", "all")
    assert everything.returncode == 0, everything.stderr
    with duckdb.connect(str(store_copy), read_only=True) as con:
        in_all = {row[0] for row in con.execute("SELECT i.candidate_id FROM export_items i JOIN exports e "
                                                "USING (export_id) WHERE e.name = 'all'").fetchall()}
    assert approved in in_all and rejected not in in_all
