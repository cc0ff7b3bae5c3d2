"""Point reads before and after migration 0010, side by side in one run: `show` at 10^7 cells (a DuckDB file and a
DuckLake after `store maintain`) and `memscore ui`'s conversation and review pages at 10^5 conversations.

    python scripts/bench_point_reads.py --before-tree DIR [--corpus DB] [--ui DB] [--lake TARGET --lake-data DIR]
        [--rounds 2] [--out docs/bench-point-reads.json]

A long job, not a test; its output is committed. DIR is a checkout of the code before migration 0010 (e.g. `git
archive 9715ed6 | tar -x -C DIR`); the stores were built by that code (`build_corpus_store`, `ui_pages.ui_shape`),
so their schema is 9. Each DuckDB store is copied and the copy opened by this tree (migration 0010 runs: its wall
and CPU seconds are reported); then each measurement runs in a process of its own, before (DIR's code on the
original) and after (this tree on the copy) alternating, `rounds` times. The DuckLake cannot be copied (its catalog
names its data path), so it is measured before, migrated and maintained in place, then measured after. A process
reports the command's wall seconds and its CPU seconds (every thread of the process), imports excluded, and the
1-minute load average when it ended: the machine is shared, so CPU seconds are the steadier figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

DRIVER = r"""
import json, os, sys, time
from pathlib import Path
mode, target, work = sys.argv[1:4]
def timed(run):
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return {"wall_s": round(time.perf_counter() - wall, 3), "cpu_s": round(time.process_time() - cpu, 3),
            "load_1min": os.getloadavg()[0]}
if mode == "show":
    from memscore_core.bench.corpus_bench import COMMANDS
    import memscore_core.downstream.report  # noqa: F401  (imported by the command, outside the timing)
    print(json.dumps({"show": timed(lambda: COMMANDS["show"](target, Path(work)))}))
else:
    from starlette.testclient import TestClient
    from memscore_core.store import Store
    from memscore_core.store.dashboard import Filters, conversations, reading
    from memscore_core.ui.app import build_app
    from memscore_core.ui.security import Guard
    store = Store(target)
    with reading(store) as con:
        newest = conversations(con, Filters(), limit=1).rows[0].conversation_id
    app = build_app(store, Guard(token=None, loopback_only=True, csrf="bench"), threshold=2.0)
    found = {"refresh": timed(app.state.context.refresh_candidates)}
    client = TestClient(app, base_url="http://127.0.0.1")
    pages = {"conversation": f"/conversations/{newest}", "review": "/review", "review, page 50": "/review?page=50",
             "review, all, prefix": "/review?status=all&prefix=topic-1"}
    sizes = {}
    for page, url in pages.items():
        answers = []
        found[page] = timed(lambda: answers.append(client.get(url)))
        sizes[page] = len(answers[0].content)
    print(json.dumps({**found, "bytes": sizes}))
"""


def measure(tree: Path, mode: str, target: str, work: Path) -> dict[str, Any]:
    """One process of ``tree``'s code: ``mode`` (show or ui) over ``target``."""
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, "-c", DRIVER, mode, target, str(work)], capture_output=True, text=True,
                          cwd=tree, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{mode} on {target} with {tree}: {done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


UPGRADE = """
import sys, time
from memscore_core.store import Store
from memscore_core.store.upkeep import maintain
wall, cpu = time.perf_counter(), time.process_time()
store = Store(sys.argv[1], data_path=sys.argv[2] or None)
migrated = time.perf_counter()
if sys.argv[1].startswith("ducklake:"):
    maintain(store)
print(round(migrated - wall, 1), round(time.perf_counter() - wall, 1), round(time.process_time() - cpu, 1))
"""


def upgrade(target: str, data_path: str | None = None) -> dict[str, float]:
    """Open ``target`` with this tree (migration 0010 runs); a DuckLake is maintained after."""
    done = subprocess.run([sys.executable, "-c", UPGRADE, target, data_path or ""], capture_output=True, text=True,
                          cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    migration_s, wall_s, cpu_s = (float(x) for x in done.stdout.split())
    return {"migration_wall_s": migration_s, "wall_s": wall_s, "cpu_s": cpu_s}


def side_by_side(before_tree: Path, mode: str, before: str, after: str, rounds: int, work: Path,
                 alternate: bool = True) -> list[dict[str, Any]]:
    found = []
    for r in range(rounds):
        found.append({"round": r + 1, "side": "before", **measure(before_tree, mode, before, work / "before")})
        if alternate:
            found.append({"round": r + 1, "side": "after", **measure(REPO, mode, after, work / "after")})
    return found


def ratios(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per measured step: before / after of the median wall and CPU seconds."""
    steps = [k for k in rows[0] if isinstance(rows[0][k], dict) and "wall_s" in rows[0][k]]
    found = {}
    for step in steps:
        sides = {side: [r[step] for r in rows if r["side"] == side] for side in ("before", "after")}
        if not sides["before"] or not sides["after"]:
            continue
        med = {side: {k: sorted(x[k] for x in xs)[len(xs) // 2] for k in ("wall_s", "cpu_s")}
               for side, xs in sides.items()}
        found[step] = {"before_wall_s": med["before"]["wall_s"], "after_wall_s": med["after"]["wall_s"],
                       "before_cpu_s": med["before"]["cpu_s"], "after_cpu_s": med["after"]["cpu_s"],
                       "wall_ratio": round(med["before"]["wall_s"] / max(med["after"]["wall_s"], 1e-3), 1),
                       "cpu_ratio": round(med["before"]["cpu_s"] / max(med["after"]["cpu_s"], 1e-3), 1)}
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before-tree", type=Path, required=True)
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--ui", type=Path)
    parser.add_argument("--lake")
    parser.add_argument("--lake-data")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--reuse", action="store_true", help="an upgraded copy left by a previous run is reused")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "bench-point-reads.json")
    args = parser.parse_args()
    work = args.out.parent / "point-reads-work"
    report: dict[str, Any] = {"nproc": os.cpu_count()}
    for name, db, mode in (("show, DuckDB file", args.corpus, "show"), ("ui pages, DuckDB file", args.ui, "ui")):
        if db is None:
            continue
        copy = db.with_name(db.stem + "-0010" + db.suffix)
        upgraded = {}
        if not (args.reuse and copy.exists()):
            shutil.copy(db, copy)
            upgraded = upgrade(str(copy))
        rows = side_by_side(args.before_tree, mode, str(db), str(copy), args.rounds, work / mode)
        report[name] = {"store": str(db), "migration_0010": upgraded, "ratios": ratios(rows), "rounds": rows}
        print(json.dumps({name: report[name]["ratios"], "migration_0010": upgraded}), flush=True)
    if args.lake:
        os.environ["MEMSCORE_DATA_PATH"] = args.lake_data
        before = side_by_side(args.before_tree, "show", args.lake, args.lake, args.rounds, work / "lake", False)
        upgraded = upgrade(args.lake, args.lake_data)
        after = [{"round": row["round"], "side": "after", **measure(REPO, "show", args.lake, work / "lake")}
                 for row in before]
        rows = before + after
        report["show, DuckLake after maintain"] = {"store": args.lake, "migration_0010_and_maintain": upgraded,
                                                   "ratios": ratios(rows), "rounds": rows}
        print(json.dumps({"lake": report["show, DuckLake after maintain"]["ratios"], "upgrade": upgraded}),
              flush=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
