"""The embedded server's process holds transformers without scikit-learn and scipy, which it never uses."""

from __future__ import annotations

import subprocess
import sys

from memscore_core.settings import REPO_ROOT
from tests.embedded.conftest import CAPTURE_MODEL

LOAD_AND_SCORE = f"""
import sys
from memscore_core.embedded.model import LocalModel
model = LocalModel({str(CAPTURE_MODEL)!r})
model.prompt_logprobs(model.encode("Hello there, how are you today?"), 1)
print(sorted({{"sklearn", "scipy"}} & set(sys.modules)))
"""


def test_loading_and_scoring_a_model_imports_neither_scikit_learn_nor_scipy() -> None:
    done = subprocess.run([sys.executable, "-c", LOAD_AND_SCORE], capture_output=True, text=True, timeout=600,
                          cwd=REPO_ROOT, check=True)
    assert done.stdout.splitlines()[-1] == "[]"
