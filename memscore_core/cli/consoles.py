"""The command line's two consoles: tables on stdout, messages on stderr."""

from __future__ import annotations

from rich.console import Console

PIPE_WIDTH = 132


def stdout_console() -> Console:
    """Tables on stdout; in a pipe or a log, wide enough that keys and numbers are not cut."""
    console = Console()
    return console if console.is_terminal else Console(width=PIPE_WIDTH)


def stderr_console() -> Console:
    """Errors and progress on stderr; long lines (file paths, server messages) are never wrapped."""
    return Console(stderr=True, soft_wrap=True)
