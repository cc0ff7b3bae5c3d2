"""The model directories the embedded server can load: what each holds, read without loading its weights.

A model directory is a transformers directory (``config.json``, ``model.safetensors``, a tokenizer and a chat
template), as ``data/models/*`` ship and ``make models`` installs. Its chat template is described by rendering
it on a probe conversation: ChatML or not, the system prompt it inserts when a conversation has none, and
whether it shows reasoning as ``<think>`` and tool schemas at all.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from safetensors import safe_open

from memscore_core.errors import ConfigError
from memscore_core.settings import REPO_ROOT

SHIPPED_MODELS = REPO_ROOT / "data" / "models"
PROBE_REASONING = "probe-reasoning"
PROBE_TOOL = "probe_tool_name"
_DEFAULT_SYSTEM = re.compile(r"^<\|im_start\|>system\n(.*?)<\|im_end\|>", re.DOTALL)


class ChatTemplate(BaseModel):
    """How a model's chat template renders a conversation."""

    chatml: bool
    default_system_prompt: str | None
    think: bool
    tools: bool

    def kind(self) -> str:
        """A short description, e.g. ``ChatML, default system, no <think>, no tools``."""
        parts = ["ChatML" if self.chatml else "not ChatML",
                 "default system" if self.default_system_prompt else "no default system",
                 "<think>" if self.think else "no <think>", "tools" if self.tools else "no tools"]
        return ", ".join(parts)


class ModelInfo(BaseModel):
    """One model directory: size on disk, architecture, parameters, chat template, whether it is the default."""

    name: str
    path: str
    default: bool
    size_bytes: int
    architecture: str
    parameters: int
    layers: int
    hidden_size: int
    vocab_size: int
    max_positions: int | None
    template: ChatTemplate


def require_model_dir(model_dir: Path) -> Path:
    """``model_dir`` if it holds a model (``config.json``), else a :class:`ConfigError` naming it."""
    if not (model_dir / "config.json").is_file():
        raise ConfigError(f"no model in {model_dir}: config.json is missing (`make models` installs "
                          f"data/models/smollm2-135m-instruct; `memscore models` lists what is installed)")
    return model_dir


def model_dirs(configured: Path) -> list[Path]:
    """Every model under ``data/models/`` and the configured one (``MEMSCORE_MODEL_DIR``), each once."""
    found = sorted(p for p in SHIPPED_MODELS.iterdir() if (p / "config.json").is_file()) \
        if SHIPPED_MODELS.is_dir() else []
    resolved = {p.resolve() for p in found}
    if configured.resolve() not in resolved:
        found.append(require_model_dir(configured))
    return found


def describe(model_dir: Path, *, default: bool = False) -> ModelInfo:
    """What ``model_dir`` holds, read from its config, its safetensors headers and its chat template."""
    config = json.loads((model_dir / "config.json").read_text())
    return ModelInfo(
        name=model_dir.name, path=str(model_dir), default=default,
        size_bytes=sum(p.stat().st_size for p in model_dir.rglob("*") if p.is_file()),
        architecture=",".join(config.get("architectures") or [config.get("model_type", "?")]),
        parameters=_parameters(model_dir), layers=int(config["num_hidden_layers"]),
        hidden_size=int(config["hidden_size"]), vocab_size=int(config["vocab_size"]),
        max_positions=config.get("max_position_embeddings"), template=chat_template(model_dir))


def catalog(configured: Path) -> list[ModelInfo]:
    """Every available model, the configured one (the embedded default) marked."""
    chosen = configured.resolve()
    return [describe(path, default=path.resolve() == chosen) for path in model_dirs(configured)]


def chat_template(model_dir: Path) -> ChatTemplate:
    """The template's behaviour, found by rendering a probe conversation with transformers' own renderer."""
    from transformers.utils.chat_template_utils import render_jinja_template

    source, special = _template_source(model_dir)
    messages = [{"role": "user", "content": "Q"},
                {"role": "assistant", "content": "A", "reasoning_content": PROBE_REASONING}]
    tool: dict[Any, Any] = {"type": "function", "function": {"name": PROBE_TOOL, "description": "d",
                                                           "parameters": {"type": "object", "properties": {}}}}
    text = render_jinja_template([messages], chat_template=source, **special)[0][0]
    with_tools = render_jinja_template([messages], tools=[tool], chat_template=source, **special)[0][0]
    default_system = _DEFAULT_SYSTEM.match(text)
    return ChatTemplate(chatml="<|im_start|>user\nQ<|im_end|>" in text,
                        default_system_prompt=default_system.group(1) if default_system else None,
                        think=f"<think>{PROBE_REASONING}" in text, tools=PROBE_TOOL in with_tools)


def _template_source(model_dir: Path) -> tuple[str, dict[str, Any]]:
    """The chat template's text (``chat_template.jinja`` or the tokenizer config's) and the special tokens a
    template may refer to (``bos_token``, ``eos_token``, ...)."""
    tokenizer_config: dict[str, Any] = {}
    if (model_dir / "tokenizer_config.json").is_file():
        tokenizer_config = json.loads((model_dir / "tokenizer_config.json").read_text())
    special = {key: value for key, value in tokenizer_config.items()
               if key.endswith("_token") and isinstance(value, str)}
    if (model_dir / "chat_template.jinja").is_file():
        return (model_dir / "chat_template.jinja").read_text(), special
    if isinstance(tokenizer_config.get("chat_template"), str):
        return tokenizer_config["chat_template"], special
    raise ConfigError(f"no chat template in {model_dir}: neither chat_template.jinja nor tokenizer_config.json's "
                      f"chat_template")


def _parameters(model_dir: Path) -> int:
    """Parameters stored in the directory's safetensors files (a tied tensor is stored, and counted, once)."""
    total = 0
    for file in sorted(model_dir.glob("*.safetensors")):
        with safe_open(str(file), "numpy") as weights:
            for name in weights.keys():  # noqa: SIM118 (a safetensors handle is not a dict)
                count = 1
                for extent in weights.get_slice(name).get_shape():
                    count *= extent
                total += count
    return total
