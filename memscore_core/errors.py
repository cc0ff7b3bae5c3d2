"""memscore's exceptions: one root, translated from httpx/DuckDB/pydantic at the boundary.

    MemscoreError
    ├── InputError              a conversation file or record is invalid (file, line, id, field)
    ├── BackendError            the inference server could not answer usefully
    │   ├── TransientBackendError   5xx, 429, dropped connection, timeout, unreadable body: retry
    │   ├── RequestRejectedError    any other 4xx: never retried
    │   │   └── ContextLengthError  400 "maximum context length": re-plan with smaller chunks
    │   └── ResponseFormatError     a 200 whose prompt_logprobs cannot be read
    ├── SpanError               the scored prompt does not match the messages that were sent
    ├── AlignmentError          baseline and ablated token ids of a response differ
    ├── StoreError              the DuckDB store failed
    └── ConfigError             invalid settings or options
"""

from __future__ import annotations


class MemscoreError(Exception):
    """Root of every error memscore raises on purpose."""


class InputError(MemscoreError):
    """An invalid conversation, located by file, line, conversation id and field."""

    def __init__(self, message: str, *, file: str, line: int | None = None,
                 conversation_id: str | None = None, field: str | None = None) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.conversation_id = conversation_id
        self.field = field
        super().__init__(self.describe())

    def describe(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        parts = [where]
        if self.conversation_id is not None:
            parts.append(f"conversation {self.conversation_id!r}")
        if self.field is not None:
            parts.append(f"field {self.field!r}")
        return f"{': '.join(parts)}: {self.message}"


class BackendError(MemscoreError):
    """The inference server failed; carries the HTTP status and the server's own message."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class TransientBackendError(BackendError):
    """Worth retrying: 5xx, 429, connection errors, timeouts, truncated bodies."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message, status=status)


class RequestRejectedError(BackendError):
    """A 4xx other than 429: the request itself is wrong, retrying cannot help."""


class ContextLengthError(RequestRejectedError):
    """The prompt is longer than the server's maximum context length."""


class ResponseFormatError(BackendError):
    """A successful response whose body lacks readable prompt log-probabilities."""


class SpanError(MemscoreError):
    """The scored token stream does not split into the messages that were sent."""


class AlignmentError(MemscoreError):
    """Baseline and ablated token ids of a response differ."""


class StoreError(MemscoreError):
    """The DuckDB store failed."""


class ConfigError(MemscoreError):
    """Invalid settings or command-line options."""
