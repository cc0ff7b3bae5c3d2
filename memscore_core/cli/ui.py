"""``memscore ui``: the dashboard and candidate review in the browser, over the store."""

from __future__ import annotations

from typing import Annotated

import typer

from memscore_core.cli.consoles import stderr_console
from memscore_core.cli.query import DataPathOption, DbOption, open_store
from memscore_core.downstream.export import DEFAULT_THRESHOLD


def ui(
    db: DbOption = None,
    data_path: DataPathOption = None,
    host: Annotated[str, typer.Option(help="Address to bind; any but loopback requires the token.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8765,
    token: Annotated[str | None, typer.Option(help="Require this token \\[default: $MEMSCORE_UI_TOKEN; off the "
                                              "loopback address, a new one printed at start].")] = None,
    threshold: Annotated[float, typer.Option(help="Review candidates' minimum dependence (nats per response "
                                             "token), as `memscore review list --threshold`.")] = DEFAULT_THRESHOLD,
) -> None:
    """A local web dashboard over the store (activity, memories, conversations) and candidate review; read-only
    except review decisions, written as `memscore review approve/reject` writes them."""
    import uvicorn

    from memscore_core.ui.app import build_app
    from memscore_core.ui.security import Guard
    from memscore_core.ui.settings import UiSettings

    store = open_store(db, data_path)
    guard = Guard.for_host(host, token or UiSettings().token)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/" + (f"?token={guard.token}" if guard.token else "")
    stderr_console().print(f"memscore ui on {store.name}: {url}", highlight=False, soft_wrap=True)
    uvicorn.run(build_app(store, guard, threshold=threshold, prepare=True), host=host, port=port, log_level="warning",
                access_log=False)
