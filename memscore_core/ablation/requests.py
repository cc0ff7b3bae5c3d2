"""What is sent: the plan of chunks and the removal requests every strategy builds, as plain data.

Chunk boundaries are fixed from the full conversation. Every request is a *removal*
(:func:`removal_request`): a set of memories is taken out of one chunk's prompt together with everything
that goes with them. A memory entry is left out; a system memory's block is cut from the system message;
a tool result's call is cut from the assistant turn that made it, and that turn is left out when nothing
else is left in it. A response whose turn was changed this way is not scored in that request (its cell is
NULL); every other response must be token-identical to the baseline, or the conversation fails loudly.

Removing an entry memory re-scores only the chunk that holds it (responses elsewhere cannot see it, so
their cells are exactly 0). A system memory is in every chunk's prefix, so removing it re-scores every
chunk. One more request per chunk that holds a memory removes all of them at once (``drop_all``); with
system memories every chunk holds one.

Requests per conversation = chunks + entry memories + system memories × chunks + chunks holding a memory.

With *fillers* (``--ablation replace``, :mod:`memscore_core.ablation.fillers`) a memory is not removed but
replaced by content-free text of the same number of tokens: nothing else changes, every later token keeps its position,
and a divergence measures what the memory says, not where the tokens after it sit. Each scored response must
then also start at the same token position as in the baseline.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from memscore_core.ablation.chunking import chunk_budget, plan_chunks
from memscore_core.model.conversation import Conversation
from memscore_core.model.prompt import ChatPrompt

RequestKind = Literal["baseline", "ablate", "drop_all"]


@dataclass(frozen=True)


class PromptRequest:
    """One prompt to score: the entries sent (in order) and what was removed from the chunk.

    ``removed``: memory entries left out; ``removed_system``: system memories whose blocks were cut;
    ``trimmed``: kept assistant entries that lost tool calls, as (entry, call ids), because the tool results
    answering those calls were removed. Assistant turns left with nothing are simply not sent.
    ``replaced`` / ``replaced_system``: (entry or system memory, filler text) for memories replaced rather
    than removed; a replaced entry is sent (with the filler as its text) and listed in ``removed`` too.
    """

    kind: RequestKind
    chunk: int
    entries: tuple[int, ...]
    removed: tuple[int, ...] = ()
    removed_system: tuple[int, ...] = ()
    trimmed: tuple[tuple[int, tuple[str, ...]], ...] = ()
    replaced: tuple[tuple[int, str], ...] = ()
    replaced_system: tuple[tuple[int, str], ...] = ()

    def prompt(self, conversation: Conversation) -> ChatPrompt:
        """What this request sends: the prefix and the kept entries as chat messages, and the tools."""
        entries, trimmed, replaced = conversation.entries, dict(self.trimmed), dict(self.replaced)
        messages = []
        for i in self.entries:
            entry = entries[i].without_calls(trimmed[i]) if i in trimmed else entries[i]
            if i in replaced:
                entry = entry.model_copy(update={"content": replaced[i], "reasoning": None})
            messages.append(entry.api_message())
        prefix = conversation.prefix_messages(self.removed_system, dict(self.replaced_system))
        return ChatPrompt(prefix + messages, conversation.tools)

    def ending_at(self, entry: int) -> PromptRequest:
        """This request sending only the entries up to ``entry``: the responses before it score the same (a
        response sees only what precedes it)."""
        return replace(self, entries=tuple(e for e in self.entries if e <= entry),
                       trimmed=tuple((e, ids) for e, ids in self.trimmed if e <= entry),
                       replaced=tuple((e, text) for e, text in self.replaced if e <= entry))

    @property
    def keeps_positions(self) -> bool:
        """Whether memories were replaced by fillers (every later token in place) rather than removed."""
        return bool(self.replaced or self.replaced_system)

    def roles(self, conversation: Conversation) -> list[str]:
        prefix = [m["role"] for m in conversation.prefix_messages()]
        return prefix + [conversation.entries[i].role for i in self.entries]

    @property
    def changed(self) -> frozenset[int]:
        """Responses sent in a changed form (tool calls cut): not comparable with the baseline."""
        return frozenset(entry for entry, _ in self.trimmed)

    def label(self) -> str:
        """A short name for logs and task runs: kind, chunk and the first memory removed."""
        name = f"{self.kind}-{self.chunk}"
        if self.removed:
            return f"{name}-{self.removed[0]}"
        if self.removed_system:
            return f"{name}-system{self.removed_system[0]}"
        return name


def removal_request(conversation: Conversation, kind: RequestKind, chunk: int, sent: Sequence[int],
                    memories: Collection[int], window: int | None = None,
                    fillers: Mapping[int, str] | None = None) -> PromptRequest:
    """The request that sends the entries ``sent`` of ``chunk`` without the memories ``memories`` (rows of
    ``Conversation.memories``) and everything that goes with them; with ``fillers`` (memory row → text of
    the same token count), each memory's text replaced by its filler instead, and nothing else changed.

    With ``window`` N the request ends at the N-th response after the last entry memory removed (after the
    chunk's start when only system memories are removed).
    """
    if fillers is not None:
        return _replacement_request(conversation, kind, chunk, sent, memories, window, fillers)
    refs = conversation.memories
    removed = sorted(entry for entry in (refs[row].entry for row in memories) if entry is not None)
    removed_system = tuple(sorted(system for system in (refs[row].system for row in memories) if system is not None))
    gone = set(removed)
    cut: dict[int, set[str]] = {}
    in_chunk = set(sent)
    for entry in removed:
        caller = conversation.caller(entry)
        call_id = conversation.entries[entry].tool_call_id
        if caller is not None and call_id is not None and caller in in_chunk and caller not in gone:
            cut.setdefault(caller, set()).add(call_id)
    emptied = {caller for caller, ids in cut.items() if not conversation.entries[caller].has_text()
               and all(call.id in ids for call in conversation.entries[caller].tool_calls or ())}
    kept = _windowed(conversation, [entry for entry in sent if entry not in gone and entry not in emptied], sent,
                     removed, window)
    sent_now = set(kept)
    trimmed = tuple((caller, tuple(sorted(ids))) for caller, ids in sorted(cut.items())
                    if caller not in emptied and caller in sent_now)
    return PromptRequest(kind, chunk, tuple(kept), tuple(removed), removed_system, trimmed)


def _replacement_request(conversation: Conversation, kind: RequestKind, chunk: int, sent: Sequence[int],
                         memories: Collection[int], window: int | None, fillers: Mapping[int, str]) -> PromptRequest:
    """``removal_request`` with fillers: every entry sent, each memory's text replaced by its filler."""
    refs = [(conversation.memories[row], fillers[row]) for row in memories]
    entries = sorted((ref.entry, text) for ref, text in refs if ref.entry is not None)
    systems = sorted((ref.system, text) for ref, text in refs if ref.system is not None)
    removed = [entry for entry, _ in entries]
    return PromptRequest(kind, chunk, tuple(_windowed(conversation, list(sent), sent, removed, window)),
                         tuple(removed), tuple(system for system, _ in systems), replaced=tuple(entries),
                         replaced_system=tuple(systems))


@dataclass(frozen=True)


class AblationPlan:
    """Every request the exact strategy makes for one conversation.

    ``rows[m]`` are the requests that remove memory ``m`` (of ``Conversation.memories``) alone: one for an
    entry memory, one per chunk for a system memory. With ``fillers`` every request replaces its memories.
    """

    chunks: list[list[int]]
    baseline: list[PromptRequest]
    rows: list[tuple[PromptRequest, ...]]
    drop_all: list[PromptRequest]
    window: int | None = None
    chunk_of: dict[int, int] = field(default_factory=dict)
    responses: tuple[int, ...] = ()
    fillers: Mapping[int, str] | None = None

    def removal(self, conversation: Conversation, kind: RequestKind, chunk: int,
                memories: Collection[int]) -> PromptRequest:
        """The request taking ``memories`` out of ``chunk`` (removed, or replaced by their fillers)."""
        return removal_request(conversation, kind, chunk, self.chunks[chunk], memories, self.window, self.fillers)

    @property
    def ablations(self) -> list[PromptRequest]:
        return [request for row in self.rows for request in row]

    @property
    def requests(self) -> list[PromptRequest]:
        return self.baseline + self.ablations + self.drop_all


def plan_exact(conversation: Conversation, chunk_tokens: int, window: int | None = None,
               fillers: Mapping[int, str] | None = None) -> AblationPlan:
    """Plan the baseline, the removal of each memory, and one drop-all per chunk holding a memory.

    A conversation without memories needs no request. With ``window`` N, a request ends at the N-th response
    after its memory (a system memory's at the N-th response of each chunk), and a drop-all request at the
    N-th after the chunk's last memory entry. With ``fillers`` memories are replaced instead of removed.
    """
    return plan_over(conversation, plan_chunks(conversation.entries, chunk_budget(conversation, chunk_tokens)),
                     window, fillers)


def plan_over(conversation: Conversation, chunks: list[list[int]], window: int | None = None,
              fillers: Mapping[int, str] | None = None) -> AblationPlan:
    """:func:`plan_exact` over given ``chunks`` (e.g. a plan's own, again with fillers)."""
    chunk_of = {entry: number for number, chunk in enumerate(chunks) for entry in chunk}
    responses = tuple(conversation.response_indices)
    refs = conversation.memories
    plan = AblationPlan(chunks, [], [], [], window, chunk_of, responses, fillers)
    if not refs:
        return plan
    baseline = [PromptRequest("baseline", number, tuple(chunk)) for number, chunk in enumerate(chunks)]
    rows: list[tuple[PromptRequest, ...]] = []
    for row, ref in enumerate(refs):
        numbers = range(len(chunks)) if ref.entry is None else [chunk_of[ref.entry]]
        rows.append(tuple(plan.removal(conversation, "ablate", number, [row]) for number in numbers))
    system_rows = [row for row, ref in enumerate(refs) if ref.system is not None]
    drop_all = []
    for number in range(len(chunks)):
        held = system_rows + [row for row, ref in enumerate(refs) if ref.entry is not None and
                              chunk_of[ref.entry] == number]
        if held:
            drop_all.append(plan.removal(conversation, "drop_all", number, held))
    return AblationPlan(chunks, baseline, rows, drop_all, window, chunk_of, responses, fillers)


def _windowed(conversation: Conversation, kept: list[int], sent: Sequence[int], removed: Sequence[int],
              window: int | None) -> list[int]:
    """``kept`` up to the ``window``-th response after the last of the (sorted) ``removed`` entries, or after
    the chunk's start (``sent``) when no entry was removed; all of it without a window."""
    if window is None:
        return kept
    anchor = removed[-1] if removed else (sent[0] - 1 if sent else -1)
    seen = 0
    for position, entry in enumerate(kept):
        if entry > anchor and conversation.entries[entry].is_response:
            seen += 1
            if seen == window:
                return kept[: position + 1]
    return kept
