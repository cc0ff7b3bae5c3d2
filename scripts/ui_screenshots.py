"""Screenshots of `memscore ui`'s pages for docs/: docs/ui-overview.png, ui-memory.png, ui-conversation.png,
ui-review.png, taken with Debian's headless chromium (scripts/install_browser.sh).

    python scripts/ui_screenshots.py [--db STORE]

Without --db it scores data/conversations/ on the embedded model into a temporary store first.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.browser import chromium  # noqa: E402
from tests.support.ui_server import ui_server  # noqa: E402

VIEWPORT = {"width": 1400, "height": 900}


def scored_sample(folder: Path) -> Path:
    db = folder / "sample.duckdb"
    subprocess.run([sys.executable, "-m", "memscore_core.cli", "score", str(REPO / "data" / "conversations"),
                    "--db", str(db), "--no-cache"], check=True, cwd=REPO)
    return db


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="a scored store (default: the sample corpus, scored now)")
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="memscore-screens-"))
    db = args.db or scored_sample(folder)
    with ui_server(db, folder) as ui, chromium() as browser:
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(ui.url + "/")
        page.wait_for_selector("#trends-chart .main-svg")
        page.screenshot(path=args.out / "ui-overview.png", full_page=True)
        page.locator("#top-memories a.memory").first.click()
        page.wait_for_selector("#timeline-chart .main-svg")
        page.screenshot(path=args.out / "ui-memory.png", full_page=True)
        page.locator("#memory-responses a.conversation").first.click()
        page.wait_for_selector("#heatmap-chart .main-svg")
        page.screenshot(path=args.out / "ui-conversation.png", full_page=True)
        page.goto(ui.url + "/review")
        page.wait_for_selector("#candidates li.candidate")
        page.screenshot(path=args.out / "ui-review.png")
    print(f"screenshots → {args.out}")


if __name__ == "__main__":
    main()
