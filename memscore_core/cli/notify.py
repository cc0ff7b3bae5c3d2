"""``memscore notify``: announce finished transcripts, so a running worker scores just them (docs/events.md).

The announcement is the Prefect event ``memscore.transcripts.arrived`` with the files' absolute paths and the
store in its payload; the ``score-conversations/on-arrival`` deployment's trigger (prefect.yaml) runs the
score flow over those paths. Agents call :func:`announce_transcripts` from Python. Prefect is imported only
here, when an announcement is made: the library itself never imports it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from memscore_core.backends.factory import joined_base_url
from memscore_core.cli.consoles import stderr_console
from memscore_core.cli.query import DbOption
from memscore_core.errors import ConfigError
from memscore_core.settings import Settings
from memscore_core.store.targets import parse_target

EVENT = "memscore.transcripts.arrived"
RESOURCE = "memscore.transcripts"
DELIVERY_SECONDS = 30.0


def announce_transcripts(paths: Sequence[str | Path], *, db: str | None = None,
                         base_url: str | list[str] | None = None) -> str:
    """Emit ``memscore.transcripts.arrived`` for ``paths`` (made absolute) into the store ``db`` (default:
    ``MEMSCORE_DB``), to be scored on ``base_url`` (default: the worker's embedded model); waits until it is sent
    and returns the event's id. Needs ``PREFECT_API_URL``: the Prefect server whose automation runs the
    deployment. From a coroutine, await :func:`aannounce_transcripts` instead."""
    from prefect.events.worker import EventsWorker

    event_id = _emit(paths, db, base_url)
    EventsWorker.drain_all(timeout=DELIVERY_SECONDS)
    return event_id


async def aannounce_transcripts(paths: Sequence[str | Path], *, db: str | None = None,
                                base_url: str | list[str] | None = None) -> str:
    """:func:`announce_transcripts` for code running in an event loop (an async agent)."""
    from prefect.events.worker import EventsWorker

    event_id = _emit(paths, db, base_url)
    await EventsWorker.drain_all(timeout=DELIVERY_SECONDS)  # type: ignore[misc]
    return event_id


def _emit(paths: Sequence[str | Path], db: str | None, base_url: str | list[str] | None) -> str:
    """Queue the event for sending; its id."""
    from prefect.events import emit_event
    from prefect.settings import PREFECT_API_URL

    if not paths:
        raise ConfigError("no transcript to announce")
    if not PREFECT_API_URL.value():
        raise ConfigError("PREFECT_API_URL is not set: announcements go to the Prefect server that runs "
                          "the score-conversations/on-arrival deployment")
    target = Settings.with_overrides(db=db).db
    payload = {"paths": [os.path.abspath(path) for path in paths],
               "db": target if parse_target(target).is_lake else os.path.abspath(target),
               "base_url": joined_base_url(base_url)}
    event = emit_event(event=EVENT, resource={"prefect.resource.id": RESOURCE}, payload=payload)
    if event is None:
        raise ConfigError(f"events cannot be sent to {PREFECT_API_URL.value()}")
    return str(event.id)


def notify(
    paths: Annotated[list[Path], typer.Argument(help="Finished transcript files (or directories) to score.")],
    db: DbOption = None,
    base_url: Annotated[list[str] | None, typer.Option(help="Server(s) that score them (default: the embedded "
                                                       "model of the worker).")] = None,
) -> None:
    """Announce finished transcripts to Prefect: the on-arrival deployment scores just these files."""
    event_id = announce_transcripts(paths, db=db, base_url=base_url)
    stderr_console().print(f"announced {len(paths)} file(s): event {event_id}", highlight=False)
