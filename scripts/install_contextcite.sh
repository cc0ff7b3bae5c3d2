#!/usr/bin/env bash
# Install ContextCite (the `context-cite` package, MadryLab's own code) into .venv-contextcite, an environment
# of its own for the peer row of docs/peer-contextcite.md: memscore and ContextCite never import each other.
# torch goes in first and alone, as the machine's local CPU wheel (an unpinned torch from the registry is a
# multi-GB CUDA build; torchvision is never installed); context-cite then installs under constraints that hold
# torch and transformers at the versions memscore's .venv runs. A stamp holding the hash of this script makes
# a rerun return at once.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-contextcite
STAMP="$VENV/.memscore-contextcite-stamp"
PYTHON="${PYTHON:-python3}"
want="$(sha256sum scripts/install_contextcite.sh | cut -d' ' -f1)"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
    exit 0
fi
echo "installing context-cite 0.0.4 into $VENV (a few minutes, once)" >&2
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q torch==2.13.0
if ! "$VENV/bin/python" -c 'import sys, torch; sys.exit(not torch.__version__.endswith("+cpu"))'; then
    echo "error: $VENV got a torch that is not the CPU build; is the local wheel directory configured?" >&2
    exit 1
fi
"$VENV/bin/pip" install -q -c <(cat <<'PINS'
torch==2.13.0
transformers==5.19.0
tokenizers==0.23.3
safetensors==0.8.0
huggingface_hub==2.4.0
numpy==2.4.6
scikit-learn==1.9.1
scipy==1.17.1
tqdm==4.70.1
PINS
) context-cite==0.0.4
if ! "$VENV/bin/python" -c "import context_cite" 2>"$VENV/import-error.log"; then
    echo "error: context_cite does not import; see $VENV/import-error.log" >&2
    tail -20 "$VENV/import-error.log" >&2
    exit 1
fi
echo "$want" > "$STAMP"
echo "context-cite installed in $VENV" >&2
