"""DuckDB extensions for the DuckLake store, loaded offline from the wheels pip installed.

DuckDB downloads extensions by default; there is no network at run time. The packages
``duckdb-extension-ducklake``, ``-postgres`` and ``-sqlite`` (pinned to memscore's duckdb version) each
ship one ``.duckdb_extension`` file. DuckDB loads an extension by name from
``<extension_directory>/<version>/<platform>/<name>.duckdb_extension``, and the postgres and sqlite files
load only under their scanner names, so :func:`extension_directory` links each wheel's file there under
the name DuckDB expects. Connections then use that directory with ``autoinstall_known_extensions`` off.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
from functools import cache
from pathlib import Path

import duckdb

from memscore_core.errors import StoreError

WHEELS = {
    "ducklake": ("duckdb_extension_ducklake", "ducklake", "duckdb-extension-ducklake"),
    "postgres_scanner": ("duckdb_extension_postgres", "postgres", "duckdb-extension-postgres"),
    "sqlite_scanner": ("duckdb_extension_sqlite", "sqlite", "duckdb-extension-sqlite"),
}
"""DuckDB's name of each extension → (module of its wheel, file stem in the wheel, package to install)."""


def connection_config(directory: Path) -> dict[str, str | bool | int | float | list[str]]:
    """DuckDB settings that load extensions from ``directory`` and never download one."""
    return {"extension_directory": str(directory), "autoinstall_known_extensions": False,
            "autoload_known_extensions": False}


def extension_directory(root: Path, names: tuple[str, ...] = tuple(WHEELS)) -> Path:
    """``root``, holding the extensions ``names`` under the version and platform this duckdb loads.

    Files already in place are kept; missing ones are linked (or copied) from their wheels.
    """
    target = root / duckdb_version() / platform()
    for name in names:
        wanted = target / f"{name}.duckdb_extension"
        if not wanted.exists():
            _place(wheel_file(name), wanted)
    return root


def wheel_file(name: str) -> Path:
    """The extension file the wheel for ``name`` installed; a clear error when it is missing."""
    module, stem, package = WHEELS[name]
    spec = importlib.util.find_spec(module)
    version = duckdb_version()
    if spec is None or not spec.submodule_search_locations:
        raise StoreError(f"the DuckDB extension {name} is not installed: pip install {package}=={version[1:]} "
                         "(make install does)")
    path = Path(next(iter(spec.submodule_search_locations))) / "extensions" / version / f"{stem}.duckdb_extension"
    if not path.is_file():
        raise StoreError(f"{package} does not match duckdb {version[1:]}: {path} is missing "
                         f"(pip install {package}=={version[1:]})")
    return path


@cache
def duckdb_version() -> str:
    """The version directory DuckDB looks in, e.g. ``v1.5.5``."""
    return f"v{duckdb.__version__}"


@cache
def platform() -> str:
    """DuckDB's platform name, e.g. ``linux_amd64``."""
    with duckdb.connect() as con:
        row = con.execute("PRAGMA platform").fetchone()
    return str(row[0]) if row else "linux_amd64"


def _place(source: Path, wanted: Path) -> None:
    """Link ``source`` at ``wanted`` (a copy where links are not possible), atomically."""
    wanted.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=wanted.parent, prefix=f".{wanted.name}.")
    os.close(handle)
    os.unlink(temporary)
    try:
        os.symlink(source, temporary)
    except OSError:
        shutil.copyfile(source, temporary)
    os.replace(temporary, wanted)


def main() -> None:
    """Fill the extension directory (``python -m memscore_core.store.extensions [DIR]``); prints it.

    The default is ``MEMSCORE_EXTENSION_DIR``, else ``share/memscore/duckdb-extensions`` in the environment.
    """
    from memscore_core.settings import Settings

    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Settings().extension_dir
    print(extension_directory(root))


if __name__ == "__main__":
    main()
