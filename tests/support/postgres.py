"""A private PostgreSQL for tests: initdb in a temporary directory, a free loopback port, stopped at the end.

One server per test session (however many conftests import the fixture); every test that asks for
``pg_conninfo`` gets a database of its own. As root the server runs as the ``postgres`` user, since
PostgreSQL refuses to run as root. Binaries come from Debian's package (``scripts/install_store.sh``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest


def bin_dir() -> Path | None:
    """The newest Debian PostgreSQL's binaries, else the directory of ``initdb`` on PATH."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass(frozen=True)
class PostgresServer:
    """A running private server on ``host``:``port``; user ``postgres`` with trust authentication."""

    root: Path
    port: int
    bin: Path
    host: str = "127.0.0.1"

    def conninfo(self, dbname: str = "postgres") -> str:
        """A libpq connection string for ``dbname``."""
        return f"dbname={dbname} host={self.host} port={self.port} user=postgres"

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its connection string."""
        name = name or f"t{uuid.uuid4().hex[:12]}"
        subprocess.run([str(self.bin / "createdb"), "-h", self.host, "-p", str(self.port), "-U", "postgres", name],
                       check=True, capture_output=True, timeout=60)
        return self.conninfo(name)


@contextmanager
def postgres_server(root: Path, *, host: str = "127.0.0.1", launcher: Sequence[str] = ()) -> Iterator[PostgresServer]:
    """Start a server whose files live in ``root``, listening on ``host`` (``launcher`` prefixes the start
    command, e.g. to run it in a network namespace); stop it (fast shutdown) on exit."""
    binaries = bin_dir()
    if binaries is None:
        pytest.skip("PostgreSQL is not installed (scripts/install_store.sh installs it)")
    data, port = root / "data", _free_port()
    as_postgres = os.geteuid() == 0
    if as_postgres:
        shutil.chown(root, "postgres")
    _run(as_postgres, [str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"])
    if host != "127.0.0.1":  # clients on the other test hosts connect over their private network
        with (data / "pg_hba.conf").open("a") as rules:
            rules.write("host all all 0.0.0.0/0 trust\n")
    options = f"-p {port} -k {root} -c listen_addresses={host} -c fsync=off -c max_connections=200"
    _run(as_postgres, [str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w",
                       "start"], launcher)
    try:
        yield PostgresServer(root, port, binaries, host)
    finally:
        _run(as_postgres, [str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"], launcher)


def _run(as_postgres: bool, command: list[str], launcher: Sequence[str] = ()) -> None:
    if as_postgres:
        command = ["runuser", "-u", "postgres", "--", *command]
    subprocess.run([*launcher, *command], check=True, capture_output=True, timeout=120)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Shared:
    """The session's one server, however many fixture definitions ask for it."""

    server: PostgresServer | None = None
    users = 0
    stack: ExitStack | None = None


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """The session's private PostgreSQL server (in a directory of its own: the postgres user cannot enter
    pytest's temporary directories)."""
    if _Shared.server is None:
        _Shared.stack = ExitStack()
        root = Path(tempfile.mkdtemp(prefix="memscore-postgres-"))
        _Shared.stack.callback(shutil.rmtree, root, ignore_errors=True)
        _Shared.server = _Shared.stack.enter_context(postgres_server(root))
    _Shared.users += 1
    try:
        yield _Shared.server
    finally:
        _Shared.users -= 1
        if _Shared.users == 0 and _Shared.stack is not None:
            _Shared.stack.close()
            _Shared.server = _Shared.stack = None


@pytest.fixture
def pg_conninfo(postgres: PostgresServer) -> str:
    """A fresh database on the session's server, as a libpq connection string."""
    return postgres.create_database()
