"""docs/errors.md lists every error memscore raises: each message's literal text and each exception class.

The messages are read from the source, not listed by hand: every call in ``memscore_core/`` and ``flows/``
to an exception class of ``memscore_core/errors.py`` (and to the few other calls that carry a user-visible
message, see ``OTHER_CALLS``), plus the CLI's ``error:`` lines. Each run of literal text of a message (an
f-string is split at its placeholders) of at least ``MIN_LITERAL`` characters must appear in the doc, where
placeholders may be written as examples. One test per message, named by its file and line.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "errors.md"
ERRORS = ROOT / "memscore_core" / "errors.py"
SOURCE_DIRS = ("memscore_core", "flows")
MIN_LITERAL = 8

# Calls, besides the classes of errors.py, whose first argument is a message users see.
OTHER_CALLS = {
    "_Broken",  # loading.py: a record that does not decode, reported as an InputError
    "BadParameter",  # typer: an invalid option value
    "ValueError",  # validators: the text ends up in an InputError message
}
FLOW_CALLS = {"RuntimeError"}  # flows/ only: the message of a failed flow run
CLI_ERROR = re.compile(r"^\s*(?:\[/?[a-z ]+\]\s*)*error:(?:\s*\[/[a-z ]+\])?\s*")
STRIP = " \t\n:,;"


class Message(NamedTuple):
    where: str  # path:line
    call: str
    runs: tuple[str, ...]  # the message's literal text, split at placeholders


def error_classes() -> list[str]:
    tree = ast.parse(ERRORS.read_text(encoding="utf-8"))
    return [node.name for node in tree.body if isinstance(node, ast.ClassDef)]


def _pieces(node: ast.expr | None) -> list[str | None] | None:
    """A string expression as literal pieces, ``None`` for each placeholder; ``None`` if not a string."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        return [value.value if isinstance(value, ast.Constant) and isinstance(value.value, str) else None
                for value in node.values]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _pieces(node.left), _pieces(node.right)
        return None if left is None and right is None else [*(left or [None]), *(right or [None])]
    return None


def _runs(pieces: list[str | None]) -> tuple[str, ...]:
    """Literal runs between placeholders, trimmed and whitespace-collapsed, long enough to be distinctive."""
    runs, current = [], ""
    for piece in [*pieces, None]:
        if piece is not None:
            current += piece
            continue
        run = " ".join(current.split()).strip(STRIP)
        if len(run) >= MIN_LITERAL:
            runs.append(run)
        current = ""
    return tuple(runs)


def _string_assignments(function: ast.AST) -> dict[str, ast.expr]:
    """``name = "..."`` / ``name = f"..."`` inside a function, so ``raise Error(name)`` is read too."""
    found: dict[str, ast.expr] = {}
    for node in ast.walk(function):
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and _pieces(node.value) is not None):
            found[node.targets[0].id] = node.value
    return found


def _call_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def messages_in(tree: ast.AST, path: str, calls: set[str]) -> list[Message]:
    """Every message of a call in ``calls``, and every ``...print("error: ...")``, in one parsed module."""
    found: list[Message] = []

    def visit(node: ast.AST, variables: dict[str, ast.expr]) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            variables = {**variables, **_string_assignments(node)}
        if isinstance(node, ast.Call):
            name = _call_name(node)
            first = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "message"), None)
            if isinstance(first, ast.Name):
                first = variables.get(first.id)
            pieces = _pieces(first)
            if pieces is not None and name == "print":
                head = pieces[0] if pieces and pieces[0] is not None else ""
                marker = CLI_ERROR.match(head)
                pieces = [head[marker.end():], *pieces[1:]] if marker else None
            if pieces is not None and (name in calls or name == "print"):
                runs = _runs(pieces)
                if runs:
                    found.append(Message(f"{path}:{node.lineno}", str(name), runs))
        for child in ast.iter_child_nodes(node):
            visit(child, variables)

    visit(tree, {})
    return found


def source_messages() -> list[Message]:
    classes = set(error_classes()) | OTHER_CALLS
    found: list[Message] = []
    for directory in SOURCE_DIRS:
        for path in sorted((ROOT / directory).rglob("*.py")):
            if path == ERRORS:
                continue
            relative = path.relative_to(ROOT).as_posix()
            calls = classes | FLOW_CALLS if directory == "flows" else classes
            found += messages_in(ast.parse(path.read_text(encoding="utf-8")), relative, calls)
    return found


def _doc_text() -> str:
    return " ".join(DOC.read_text(encoding="utf-8").split())


MESSAGES = source_messages()


@pytest.mark.parametrize("message", MESSAGES, ids=[f"{m.where}:{m.call}" for m in MESSAGES])
def test_every_error_message_in_the_source_is_in_docs_errors_md(message: Message) -> None:
    doc = _doc_text()
    missing = [run for run in message.runs if run not in doc]
    assert not missing, (
        f"{message.where}: the {message.call} message {' … '.join(message.runs)!r} is not in docs/errors.md "
        f"(missing: {missing}); add its message, class, cause and fix")


@pytest.mark.parametrize("name", error_classes())
def test_every_exception_class_is_named_in_docs_errors_md(name: str) -> None:
    assert re.search(rf"\b{name}\b", _doc_text()), f"memscore_core/errors.py: class {name} is not in docs/errors.md"


def test_the_extraction_finds_the_messages_it_is_meant_to() -> None:
    calls = {message.call for message in MESSAGES}
    assert len(MESSAGES) >= 25, MESSAGES
    assert {"InputError", "TransientBackendError", "StoreError", "_Broken", "print", "RuntimeError"} <= calls


def test_the_extraction_splits_f_strings_and_reads_local_messages() -> None:
    tree = ast.parse(
        "def f(path, status, server):\n"
        "    message = f'HTTP {status} from the server: {server}'\n"
        "    if status:\n"
        "        raise StoreError(message)\n"
        "    raise StoreError(f'{path}: no such thing ' f'here, {status} times over')\n"
        "    raise StoreError('short')\n"
        "    console.print(f'[red]error:[/red] {path}: no such database')\n"
        "    console.print('scored 3 of 4 conversations')\n")
    found = messages_in(tree, "m.py", {"StoreError"})
    assert [(m.where, m.runs) for m in found] == [
        ("m.py:4", ("from the server",)),
        ("m.py:5", ("no such thing here", "times over")),
        ("m.py:7", ("no such database",)),
    ]
