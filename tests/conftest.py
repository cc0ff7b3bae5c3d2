"""Suite-wide isolation: Prefect and memscore state live in a temporary home, never the user's."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_HOME = Path(tempfile.mkdtemp(prefix="memscore-tests-"))
os.environ["PREFECT_HOME"] = str(_HOME / "prefect")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "180"
os.environ["PREFECT_RESULTS_LOCAL_STORAGE_PATH"] = str(_HOME / "prefect-results")
os.environ["MEMSCORE_RESULTS_DIR"] = str(_HOME / "memscore-results")
os.environ["MEMSCORE_REQUEST_CACHE"] = str(_HOME / "request-cache")
os.environ["MEMSCORE_DB"] = str(_HOME / "memscore.duckdb")
os.environ.setdefault("OMP_NUM_THREADS", "1")
