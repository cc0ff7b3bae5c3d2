"""Request bodies of vLLM's OpenAI-compatible API that the local server accepts, and its error shape.

Messages and tools reach the chat template as vLLM 0.32 hands them over: content as one string (text
parts joined by newlines, null as ``""``), tool-call arguments parsed into objects, only the fields vLLM
keeps, and each tool as ``{type, function: {name, description, parameters}}``. As in vLLM, tools need
``"tool_choice": "none"`` unless the server parses tool calls (this one never does).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_serializer, model_validator


class _Request(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str | None = None
    max_tokens: int | None = Field(default=None, ge=0)
    prompt_logprobs: int | None = None
    stream: bool = False
    return_token_ids: bool = False


class FunctionDefinition(BaseModel):
    """A tool's function as vLLM keeps it: ``strict`` only when given, other fields dropped."""

    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None

    @model_serializer(mode="plain")
    def _serialise(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"name": self.name, "description": self.description, "parameters": self.parameters}
        if self.strict is not None:
            shown["strict"] = self.strict
        return shown


class ToolParam(BaseModel):
    type: str = "function"
    function: FunctionDefinition


class _Templated(BaseModel):
    """A request whose messages (and tools) go through the chat template."""

    model_config = ConfigDict(extra="allow")

    messages: list[dict[str, Any]] | None = None
    tools: list[ToolParam] | None = None
    tool_choice: str | dict[str, Any] | None = None

    @model_validator(mode="after")
    def _as_vllm_templates_them(self) -> _Templated:
        if self.tools is not None and self.tool_choice in (None, "auto"):
            raise ApiError('"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set')
        if self.messages is not None:
            self.messages = template_messages(self.messages)
        return self

    def template_tools(self) -> list[dict[str, Any]] | None:
        """The tools as the chat template sees them."""
        return None if self.tools is None else [tool.model_dump() for tool in self.tools]


class ChatRequest(_Request, _Templated):
    """``memscore_scored_roles`` (memscore's own field, not vLLM's): prompt log-probs are computed only in the
    messages of these roles; every other position comes back with its token but ``logprob`` null."""

    messages: list[dict[str, Any]] = Field(min_length=1)  # type: ignore[assignment]
    memscore_scored_roles: list[str] | None = None
    add_generation_prompt: bool = True
    continue_final_message: bool = False


class CompletionRequest(_Request):
    prompt: str | list[int]
    max_tokens: int | None = Field(default=16, ge=0)


class TokenizeRequest(_Templated):
    model: str | None = None
    prompt: str | None = None
    add_generation_prompt: bool = True
    continue_final_message: bool = False
    return_token_strs: bool = False


class ApiError(Exception):
    """An error answered in vLLM's shape: ``{"error": {message, type, param, code}}``."""

    def __init__(self, message: str, *, status: int = 400, param: str | None = None,
                 kind: str = "BadRequestError") -> None:
        super().__init__(message)
        self.message, self.status, self.param, self.kind = message, status, param, kind

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.status}}


def template_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chat messages as vLLM passes them to the chat template."""
    return [_template_message(message) for message in messages]


def _template_message(message: dict[str, Any]) -> dict[str, Any]:
    role = message.get("role")
    content = message.get("content")
    if isinstance(content, list):
        content = "\n".join(part.get("text", "") for part in content
                            if isinstance(part, dict) and part.get("type") == "text")
    shown: dict[str, Any] = {"role": role, "content": content if isinstance(content, str) else ""}
    if role == "assistant" and message.get("tool_calls"):
        shown["tool_calls"] = [_template_call(call) for call in message["tool_calls"]]
    if role == "assistant" and message.get("reasoning") is not None:
        shown["reasoning"] = shown["reasoning_content"] = message["reasoning"]
    if role == "tool" and "tool_call_id" in message:
        shown["tool_call_id"] = message["tool_call_id"]
    if isinstance(message.get("name"), str):
        shown["name"] = message["name"]
    return shown


def _template_call(call: Any) -> Any:
    """A tool call with its ``arguments`` as an object: JSON text parsed, anything else ``{}`` (as vLLM)."""
    if not isinstance(call, dict) or not isinstance(call.get("function"), dict):
        raise ApiError("chat completions only support assistant tool_calls of type 'function'.",
                       param="tool_calls")
    arguments = call["function"].get("arguments")
    if isinstance(arguments, str) and arguments:
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError:
            arguments = {}
    return {**call, "function": {**call["function"], "arguments": arguments if isinstance(arguments, dict) else {}}}
