"""Settings from ``MEMSCORE_*`` environment variables; command-line options override them."""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from memscore_core.ablation.chunking import DEFAULT_CHUNK_TOKENS

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL_DIR = REPO_ROOT / "data" / "models" / "memscore-tiny"
DEFAULT_DB = "data/memscore.duckdb"
DEFAULT_EXTENSION_DIR = Path(sys.prefix) / "share" / "memscore" / "duckdb-extensions"
DEFAULT_CACHE_DIR = Path(".memscore/cache/requests")


class Settings(BaseSettings):
    """Where to score and how. The API key itself is read from the variable named by ``api_key_env``."""

    model_config = SettingsConfigDict(env_prefix="MEMSCORE_", extra="ignore")

    base_url: str | None = None
    model: str | None = None
    api_key_env: str = "MEMSCORE_API_KEY"
    model_dir: Path = DEFAULT_MODEL_DIR
    db: str = Field(default=DEFAULT_DB, min_length=1)
    data_path: str | None = None
    extension_dir: Path = DEFAULT_EXTENSION_DIR
    request_cache: str | None = str(DEFAULT_CACHE_DIR)
    strategy: str = "exact"
    chunk_tokens: int = Field(default=DEFAULT_CHUNK_TOKENS, ge=1)
    concurrency: int = Field(default=8, ge=1)
    timeout: float = Field(default=300.0, gt=0)
    retries: int = Field(default=5, ge=1)
    torch_threads: int | None = Field(default=None, ge=1)
    """The embedded model's torch threads per lane; ``None``: one with several lanes, else every core (or
    ``OMP_NUM_THREADS``), one for a tiny model."""
    lanes: int | None = Field(default=None, ge=1)
    """Requests the embedded model computes at once; ``None``: the usable cores ÷ ``torch_threads``, one for a
    tiny model."""
    snapshot_retention_hours: float = Field(default=24.0, ge=0)
    store_outage_seconds: float = Field(default=120.0, ge=0)

    @classmethod
    def with_overrides(cls, **overrides: object) -> Settings:
        """The environment's settings with every override that is not ``None`` applied on top."""
        return cls(**{key: value for key, value in overrides.items() if value is not None})  # type: ignore[arg-type]

    @field_validator("db", mode="before")
    @classmethod
    def _path_as_text(cls, value: object) -> object:
        """``--db`` is a DuckDB file path or a ``ducklake:`` connection string; a path is kept as text."""
        return str(value) if isinstance(value, Path) else value

    @field_validator("data_path", mode="before")
    @classmethod
    def _data_path_as_text(cls, value: object) -> object:
        if isinstance(value, Path):
            return str(value)
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("request_cache", mode="before")
    @classmethod
    def _empty_means_no_cache(cls, value: object) -> object:
        """A path or an fsspec URL (``s3://…``) every worker reaches; ``MEMSCORE_REQUEST_CACHE=`` turns the cache
        off instead of caching into the working directory."""
        if isinstance(value, Path):
            return str(value)
        return None if isinstance(value, str) and not value.strip() else value
