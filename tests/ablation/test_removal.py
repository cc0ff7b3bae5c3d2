"""Removal requests: what a request sends when a set of memories is removed, and how many requests a plan makes."""

from __future__ import annotations

from memscore_core.ablation.requests import plan_exact, removal_request
from memscore_core.model.conversation import Conversation, Entry, SystemMemory, ToolCall, ToolFunction


def call(call_id: str, key: str) -> ToolCall:
    return ToolCall(id=call_id, function=ToolFunction(name="recall", arguments=f'{{"key": "{key}"}}'))


AGENT = Conversation(id="agent", system_prompt="You help.", entries=[
    Entry(role="user", content="Where do I live?"),                                          # 0
    Entry(role="assistant", content=None, tool_calls=[call("c1", "home")]),                  # 1
    Entry(role="tool", content="The user lives in Oslo.", tool_call_id="c1", memory_key="home"),  # 2
    Entry(role="assistant", content="In Oslo."),                                             # 3
    Entry(role="user", content="Pet and job?"),                                              # 4
    Entry(role="assistant", content="Checking.", tool_calls=[call("c2", "pet"), call("c3", "job")]),  # 5
    Entry(role="tool", content="The user has a cat.", tool_call_id="c2", memory_key="pet"),  # 6
    Entry(role="tool", content="The user is a baker.", tool_call_id="c3", memory_key="job"),  # 7
    Entry(role="assistant", content="A cat; a baker."),                                      # 8
])
ALL = list(range(len(AGENT.entries)))


def row_of(conversation: Conversation, key: str) -> int:
    return next(row for row, memory in enumerate(conversation.memories) if memory.key == key)


def test_removing_the_only_result_of_a_tool_call_turn_removes_the_whole_turn() -> None:
    request = removal_request(AGENT, "ablate", 0, ALL, [row_of(AGENT, "home")])
    assert request.entries == (0, 3, 4, 5, 6, 7, 8)
    assert request.removed == (2,) and request.trimmed == ()


def test_removing_one_of_several_results_cuts_only_its_call_and_marks_the_turn_changed() -> None:
    request = removal_request(AGENT, "ablate", 0, ALL, [row_of(AGENT, "pet")])
    assert request.entries == (0, 1, 2, 3, 4, 5, 7, 8)
    assert request.trimmed == ((5, ("c2",)),) and request.changed == {5}
    sent = request.prompt(AGENT).messages[1:]
    assert [c["id"] for c in sent[5]["tool_calls"]] == ["c3"] and sent[5]["content"] == "Checking."


def test_removing_every_result_of_a_turn_with_text_keeps_the_text_and_drops_the_calls() -> None:
    request = removal_request(AGENT, "drop_all", 0, ALL, [row_of(AGENT, "pet"), row_of(AGENT, "job")])
    assert request.entries == (0, 1, 2, 3, 4, 5, 8)
    sent = request.prompt(AGENT).messages[1:]
    assert sent[5] == {"role": "assistant", "content": "Checking."}


def test_a_tool_result_whose_call_is_not_in_the_conversation_is_removed_alone() -> None:
    synth = Conversation(id="s", entries=[
        Entry(role="tool", content="Oslo", tool_call_id="call_1", memory_key="home"),
        Entry(role="user", content="Where?"), Entry(role="assistant", content="Oslo")])
    request = removal_request(synth, "ablate", 0, [0, 1, 2], [0])
    assert request.entries == (1, 2) and request.trimmed == ()


def test_removing_a_system_memory_cuts_its_block_from_the_system_message_only() -> None:
    c = AGENT.model_copy(update={"system_memories": [SystemMemory(key="persona", content="I am Sam.")]})
    request = removal_request(c, "ablate", 0, ALL, [row_of(c, "persona")])
    assert request.entries == tuple(ALL) and request.removed_system == (0,)
    assert request.prompt(c).messages[0] == {"role": "system", "content": "You help."}
    assert removal_request(c, "baseline", 0, ALL, []).prompt(c).messages[0]["content"] == "You help.\n\nI am Sam."


def test_a_request_sends_the_conversations_tools() -> None:
    tools = [{"type": "function", "function": {"name": "recall"}}]
    c = AGENT.model_copy(update={"tools": tools})
    assert removal_request(c, "ablate", 0, ALL, [0]).prompt(c).tools == tools


def test_requests_are_chunks_plus_entry_memories_plus_system_memories_times_chunks_plus_drop_alls() -> None:
    turns = [Entry(role="user", content="x" * 40), Entry(role="assistant", content="y" * 40)] * 6
    c = Conversation(id="c", entries=[Entry(role="tool", content="m", memory_key="a"), *turns],
                     system_memories=[SystemMemory(key="s1", content="one"), SystemMemory(key="s2", content="two")])
    plan = plan_exact(c, chunk_tokens=40)
    chunks = len(plan.chunks)
    assert chunks == 3
    assert len(plan.requests) == chunks + 1 + 2 * chunks + chunks
    assert all(set(request.removed_system) == {0, 1} for request in plan.drop_all)


def test_a_system_memory_with_a_window_is_scored_n_responses_into_each_chunk() -> None:
    turns = [Entry(role="user", content="x" * 40), Entry(role="assistant", content="y" * 40)] * 6
    c = Conversation(id="c", entries=turns, system_memories=[SystemMemory(key="s", content="one")])
    plan = plan_exact(c, chunk_tokens=40, window=1)
    assert [request.entries for request in plan.rows[0]] == [(0, 1), (4, 5), (8, 9)]
