"""Several "hosts" on one machine for tests: network namespaces joined by a private bridge.

Each host is a network namespace with its own address on a bridge that only this machine sees. Hosts
reach each other only through those addresses, so whatever they share beyond the files they declare
must cross that network; the test itself (in the root namespace) reaches every host. Shared services
(Prefect, PostgreSQL) run on a host of their own: a sandbox may refuse connections from a namespace into
the root one. Where namespaces cannot be made (no root, no iproute2), every host is 127.0.0.1 and the
processes run directly, in separate working directories.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Hosts:
    """Named hosts; ``address(name)`` to reach one, ``popen(name, ...)`` to run a process on it."""

    addresses: dict[str, str]
    namespaces: dict[str, str] = field(default_factory=dict)

    def address(self, name: str) -> str:
        return self.addresses[name]

    @property
    def isolated(self) -> bool:
        """Whether the hosts are separate network namespaces (else they all share loopback)."""
        return bool(self.namespaces)

    def launcher(self, name: str) -> list[str]:
        """The command prefix that runs a program on host ``name``."""
        return ["ip", "netns", "exec", self.namespaces[name]] if self.isolated else []

    def pids(self, name: str) -> list[int]:
        """Every process running on host ``name`` (whatever session it started in)."""
        listing = subprocess.run(["ip", "netns", "pids", self.namespaces[name]], capture_output=True, text=True)
        return [int(pid) for pid in listing.stdout.split()]

    def kill(self, name: str) -> None:
        """What a host's sudden death does to what it runs: SIGKILL to every process on it."""
        for pid in self.pids(name):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def popen(self, name: str, command: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        """``command`` on host ``name``, in a session of its own (so the whole host process tree can be killed)."""
        return subprocess.Popen([*self.launcher(name), *command], start_new_session=True, **kwargs)


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True)


def namespaces_available() -> bool:
    """Root with iproute2: network namespaces and a bridge can be made."""
    return os.geteuid() == 0 and shutil.which("ip") is not None and Path("/var/run").exists()


@contextmanager
def hosts(names: Sequence[str], *, subnet: int | None = None) -> Iterator[Hosts]:
    """Hosts ``names`` for the duration of the block; namespaces and the bridge are removed after."""
    if not namespaces_available():
        yield Hosts({name: "127.0.0.1" for name in names})
        return
    tag = f"{os.getpid() % 10000}"
    octet = subnet if subnet is not None else 100 + os.getpid() % 100
    bridge, gateway = f"msbr{tag}", f"10.79.{octet}.1"
    made: list[str] = []
    try:
        _run("ip", "link", "add", bridge, "type", "bridge")
        _run("ip", "addr", "add", f"{gateway}/24", "dev", bridge)
        _run("ip", "link", "set", bridge, "up")
        addresses, namespaces = {}, {}
        for number, name in enumerate(names, start=11):
            namespace, veth = f"ms{tag}-{name}", f"msv{tag}{number}"
            _run("ip", "netns", "add", namespace)
            made.append(namespace)
            _run("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", namespace)
            _run("ip", "link", "set", veth, "master", bridge, "up")
            address = f"10.79.{octet}.{number}"
            _run("ip", "netns", "exec", namespace, "ip", "addr", "add", f"{address}/24", "dev", "eth0")
            _run("ip", "netns", "exec", namespace, "ip", "link", "set", "eth0", "up")
            _run("ip", "netns", "exec", namespace, "ip", "link", "set", "lo", "up")
            addresses[name], namespaces[name] = address, namespace
        yield Hosts(addresses, namespaces=namespaces)
    finally:
        for namespace in made:
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True)
        subprocess.run(["ip", "link", "del", bridge], capture_output=True)
