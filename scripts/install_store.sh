#!/usr/bin/env bash
# The store's offline pieces: DuckDB's DuckLake/postgres/sqlite extensions (from the pinned wheels that
# `pip install` put in .venv) linked where DuckDB loads them without a download, and PostgreSQL from
# Debian's packages for the many-writer catalog and its tests, installed only when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${BIN:-.venv/bin}"
"$BIN/python" -m memscore_core.store.extensions >/dev/null
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
    echo "installing PostgreSQL from Debian's packages (once)" >&2
    if [[ "$(id -u)" == 0 ]]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q postgresql
fi
