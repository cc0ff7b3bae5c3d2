"""The embedded model's chat template: tools and tool calls Qwen2.5-style, every older conversation as before."""

from __future__ import annotations

import ast
from typing import Any

import pytest
from transformers import AutoTokenizer

from memscore_core.formats.loading import load_conversations
from memscore_core.settings import DEFAULT_MODEL_DIR, REPO_ROOT
from memscore_core.synth.generator import generate_corpus

TEMPLATE = DEFAULT_MODEL_DIR / "chat_template.jinja"
# The template before tools: what every conversation written before them was rendered (and trained) with.
CHATML = ("{%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\\n' }}"
          "{%- if message['reasoning_content'] is defined and message['reasoning_content'] %}"
          "{{- '<think>' + message['reasoning_content'] + '</think>' }}{%- endif %}"
          "{{- message['content'] + '<|im_end|>' + '\\n' }}{%- endfor %}"
          "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}")
TOOLS = [{"type": "function", "function": {"name": "recall", "description": "Recall a note.",
                                           "parameters": {"type": "object"}}}]


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return AutoTokenizer.from_pretrained(DEFAULT_MODEL_DIR)


def render(tokenizer: Any, messages: list[dict[str, Any]], template: str | None = None, **kwargs: Any) -> str:
    return str(tokenizer.apply_chat_template(messages, tokenize=False, chat_template=template, **kwargs))


def test_the_template_file_is_the_training_scripts_constant() -> None:
    script = ast.parse((REPO_ROOT / "scripts" / "train_tiny_model.py").read_text())
    constant = next(node.value for node in script.body if isinstance(node, ast.Assign)
                    and getattr(node.targets[0], "id", None) == "CHAT_TEMPLATE")
    assert TEMPLATE.read_text() == ast.literal_eval(constant)


def test_every_existing_conversation_and_prefix_of_it_renders_byte_identically(tokenizer: Any) -> None:
    sample = [item.conversation for item in load_conversations([REPO_ROOT / "data" / "conversations"]).conversations]
    compared = 0
    for conversation in sample + list(generate_corpus(60, seed=11)):
        messages = conversation.prefix_messages() + [entry.api_message() for entry in conversation.entries]
        for end in range(1, len(messages) + 1):
            for generation in (False, True):
                assert render(tokenizer, messages[:end], add_generation_prompt=generation) == render(
                    tokenizer, messages[:end], CHATML, add_generation_prompt=generation), (conversation.id, end)
                compared += 1
    assert compared > 1000


def test_tools_are_listed_in_the_system_message_as_qwen25_does(tokenizer: Any) -> None:
    text = render(tokenizer, [{"role": "system", "content": "S"}, {"role": "user", "content": "hi"}], tools=TOOLS)
    assert text.startswith(
        "<|im_start|>system\nS\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
        "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
        '{"type": "function", "function": {"name": "recall", "description": "Recall a note.", '
        '"parameters": {"type": "object"}}}\n</tools>\n\n')
    assert text.endswith("</tool_call><|im_end|>\n<|im_start|>user\nhi<|im_end|>\n")


def test_a_tool_call_only_turn_renders_its_calls_and_a_run_of_results_one_user_block(tokenizer: Any) -> None:
    messages = [{"role": "user", "content": "hi"},
                {"role": "assistant", "content": "", "tool_calls": [
                    {"id": "a", "type": "function", "function": {"name": "recall", "arguments": {"key": "x"}}},
                    {"id": "b", "type": "function", "function": {"name": "recall", "arguments": '{"key": "y"}'}}]},
                {"role": "tool", "content": "X", "tool_call_id": "a"},
                {"role": "tool", "content": "Y", "tool_call_id": "b"},
                {"role": "assistant", "content": "Done."}]
    assert render(tokenizer, messages) == (
        "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
        '<tool_call>\n{"name": "recall", "arguments": {"key": "x"}}\n</tool_call>\n'
        '<tool_call>\n{"name": "recall", "arguments": {"key": "y"}}\n</tool_call><|im_end|>\n'
        "<|im_start|>user\n<tool_response>\nX\n</tool_response>\n<tool_response>\nY\n</tool_response><|im_end|>\n"
        "<|im_start|>assistant\nDone.<|im_end|>\n")


def test_text_before_the_calls_of_a_turn_is_followed_by_a_newline(tokenizer: Any) -> None:
    messages = [{"role": "assistant", "content": "Let me look.", "tool_calls": [
        {"id": "a", "type": "function", "function": {"name": "recall", "arguments": {}}}]}]
    assert render(tokenizer, messages) == (
        '<|im_start|>assistant\nLet me look.\n<tool_call>\n{"name": "recall", "arguments": {}}\n'
        "</tool_call><|im_end|>\n")


def test_a_tool_result_that_answers_no_call_renders_as_a_tool_block_as_before(tokenizer: Any) -> None:
    messages = [{"role": "user", "content": "hi"}, {"role": "tool", "content": "X", "tool_call_id": "a"}]
    assert render(tokenizer, messages) == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>tool\nX<|im_end|>\n"

