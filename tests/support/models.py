"""SmolLM2-135M-Instruct, installed by `make models` (scripts/install_models.sh) into data/models/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from memscore_core.settings import REPO_ROOT

SMOLLM2_DIR = REPO_ROOT / "data" / "models" / "smollm2-135m-instruct"
SMOLLM2_STAMP = SMOLLM2_DIR / ".memscore-model-stamp"


def require_smollm2() -> Path:
    """The converted SmolLM2 directory; a skip when it is not installed, a failure under `make test`
    (``MEMSCORE_REQUIRE_MODELS=1``), which installs it first."""
    if not SMOLLM2_STAMP.is_file():
        if os.environ.get("MEMSCORE_REQUIRE_MODELS") == "1":
            pytest.fail(f"SmolLM2 is required (MEMSCORE_REQUIRE_MODELS=1) but {SMOLLM2_DIR} is not installed: "
                        f"run `make models`")
        pytest.skip(f"SmolLM2 is not installed in {SMOLLM2_DIR} (make models)")
    return SMOLLM2_DIR
