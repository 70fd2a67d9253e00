"""Settings shared by every layer, read from the environment (pydantic-settings).

Every external part of the platform can be pointed elsewhere:

- ``TEMPORAL_ADDRESS`` (``host:port``): an external Temporal frontend instead of the embedded dev
  server.
- ``DATABASE_URL`` (SQLAlchemy URL, ``postgresql+psycopg://...``): an external Postgres >= 15
  with pgvector instead of the embedded one.
- ``PROMPTOPS_MODELS``: a LiteLLM model-list YAML file (the LiteLLM proxy's ``model_list``
  format) naming models, endpoints and per-token prices instead of the embedded local LLM.

Everything the embedded stack keeps lives under ``PROMPTOPS_HOME`` (default ``./.promptops``).
"""

from __future__ import annotations

import base64
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class InvalidSecret(ValueError):
    """A configured secret is malformed (not base64 of 32 bytes)."""


def decode_secret(value: str, *, name: str) -> bytes:
    """Decode a base64 (standard or URL-safe) 32-byte secret; InvalidSecret names ``name``."""
    try:
        raw = base64.urlsafe_b64decode(
            value.strip().replace("+", "-").replace("/", "_") + "=" * (-len(value.strip()) % 4)
        )
    except (ValueError, TypeError) as exc:
        raise InvalidSecret(f"{name} is not valid base64") from exc
    if len(raw) != 32:
        raise InvalidSecret(f"{name} must decode to 32 bytes, got {len(raw)}")
    return raw


def load_or_create_secret(path: Path) -> bytes:
    """Read a base64 secret from ``path``, creating it (32 random bytes, mode 0600) if absent."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        value = base64.urlsafe_b64encode(os.urandom(32)).decode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(value + "\n")
        except BaseException:
            path.unlink(missing_ok=True)
            raise
    return decode_secret(path.read_text(), name=str(path))


class Settings(BaseSettings):
    """Process-wide configuration; environment variables win over defaults."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    home: Path = Field(default=Path(".promptops"), alias="PROMPTOPS_HOME")
    temporal_address: str | None = Field(default=None, alias="TEMPORAL_ADDRESS")
    temporal_namespace: str = Field(default="default", alias="TEMPORAL_NAMESPACE")
    temporal_port: int = Field(default=7233, alias="PROMPTOPS_TEMPORAL_PORT")
    temporal_ui_port: int = Field(default=8233, alias="PROMPTOPS_TEMPORAL_UI_PORT")
    task_queue: str = Field(default="promptops", alias="PROMPTOPS_TASK_QUEUE")
    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    models_file: Path | None = Field(default=None, alias="PROMPTOPS_MODELS")
    default_model: str | None = Field(default=None, alias="PROMPTOPS_DEFAULT_MODEL")
    api_host: str = Field(default="127.0.0.1", alias="PROMPTOPS_API_HOST")
    api_port: int = Field(default=8000, alias="PROMPTOPS_API_PORT")
    llm_port: int = Field(default=8081, alias="PROMPTOPS_LLM_PORT")
    llm_threads: int = Field(default=2, alias="PROMPTOPS_LLM_THREADS")
    llm_parallel: int = Field(default=4, alias="PROMPTOPS_LLM_PARALLEL")
    # Embedded stack (`promptops up`): which parts it runs (comma-separated subset of
    # temporal,postgres,llm,worker,api; a part pointed elsewhere above is never started), the
    # worker/API command lines ({python}, {host}, {port}, {home} are filled in) and how long
    # `up --detach` waits for everything to be healthy.
    stack_components: str = Field(
        default="temporal,postgres,llm,worker,api", alias="PROMPTOPS_STACK_COMPONENTS"
    )
    worker_command: str | None = Field(default=None, alias="PROMPTOPS_WORKER_COMMAND")
    api_command: str | None = Field(default=None, alias="PROMPTOPS_API_COMMAND")
    startup_timeout: float = Field(default=180.0, alias="PROMPTOPS_STARTUP_TIMEOUT")
    # Typed search attributes (EvalId, DatasetId, PromptVersion) on workflows; the embedded dev
    # server registers them, an external cluster needs `temporal operator search-attribute create`.
    search_attributes: bool = Field(default=True, alias="PROMPTOPS_SEARCH_ATTRIBUTES")
    # Secrets (base64 of 32 random bytes): the HMAC key for API-key hashes and the AES-256-GCM
    # key for provider credentials. Unset, they are created once under PROMPTOPS_HOME/secrets.
    secret_key: str | None = Field(default=None, alias="PROMPTOPS_SECRET_KEY", repr=False)
    encryption_key: str | None = Field(default=None, alias="PROMPTOPS_ENCRYPTION_KEY", repr=False)
    # The API key the CLI sends (else the file `promptops up` wrote, PROMPTOPS_HOME/admin.key).
    api_key: str | None = Field(default=None, alias="PROMPTOPS_API_KEY", repr=False)
    # Approval reminders: a webhook URL that gets a JSON POST (else a log line + audit entry).
    approval_webhook_url: str | None = Field(default=None, alias="PROMPTOPS_APPROVAL_WEBHOOK_URL")
    # Seconds between provider health checks (Temporal Schedule `provider-health-check`, set up
    # by each worker at start); 0 disables them (and deletes the schedule).
    health_check_interval_s: int = Field(
        default=300, ge=0, alias="PROMPTOPS_HEALTH_CHECK_INTERVAL_S"
    )
    # Seconds between folds of the run rollup deltas into run_rollups (Temporal Schedule
    # `run-rollup-fold`, set up by each worker at start); 0 disables them (and deletes the
    # schedule): the dashboard stays right, its reads add every unfolded delta.
    rollup_fold_interval_s: int = Field(default=60, ge=0, alias="PROMPTOPS_ROLLUP_FOLD_INTERVAL_S")
    # GET /metrics needs `Authorization: Bearer <token>` when set (else it is open: restrict it to
    # the Prometheus scraper at the network level).
    metrics_token: str | None = Field(default=None, alias="PROMPTOPS_METRICS_TOKEN", repr=False)
    # Seconds an authenticated API key is remembered in-process (revocations made through
    # another replica take effect within this); 0 disables the cache.
    auth_cache_ttl_s: float = Field(default=5.0, ge=0, alias="PROMPTOPS_AUTH_CACHE_TTL_S")
    # How generate and /v1/chat/completions commit their run records (with the budget
    # settlement): "durable" waits for the WAL flush (an fsync: 0.3-1.5 ms on a VM disk);
    # "async" does not (Postgres `synchronous_commit = off`): a database crash can then forget
    # the runs of the last ~0.6 s (3 x wal_writer_delay), never corrupt anything.
    run_commit: Literal["durable", "async"] = Field(default="durable", alias="PROMPTOPS_RUN_COMMIT")
    # False: generate and /v1/chat/completions go through the ordinary FastAPI routes instead of
    # the lean hot path (api/hotpath.py); same answers, slower.
    hot_path: bool = Field(default=True, alias="PROMPTOPS_HOT_PATH")
    # Retrieval: a cross-encoder exported to ONNX (a directory with model.onnx + tokenizer.json)
    # for `rerank: true` queries (none ships offline; unset, such queries get a 422), and the
    # HNSW candidate list size of dense queries (pgvector's hnsw.ef_search; the README's
    # benchmark reports the recall it gives).
    reranker_path: Path | None = Field(default=None, alias="PROMPTOPS_RERANKER_PATH")
    hnsw_ef_search: int = Field(default=100, ge=1, le=1000, alias="PROMPTOPS_HNSW_EF_SEARCH")
    # Seconds without a heartbeat after which an ingestion batch is retried elsewhere (its
    # worker is taken for dead); a batch heartbeats after every few documents.
    ingest_heartbeat_timeout_s: float = Field(
        default=60.0, gt=0, alias="PROMPTOPS_INGEST_HEARTBEAT_TIMEOUT_S"
    )
    # Seconds between runs of the retrieval maintenance (Temporal Schedule
    # `retrieval-maintenance`: TTL expiry, re-ingestion of sources whose index's re-index
    # interval has passed); 0 disables it (and deletes the schedule).
    retrieval_maintenance_interval_s: int = Field(
        default=300, ge=0, alias="PROMPTOPS_RETRIEVAL_MAINTENANCE_INTERVAL_S"
    )
    # The built web app served at / (default: ui/dist of the checkout, see api/webapp.py).
    ui_dir: Path | None = Field(default=None, alias="PROMPTOPS_UI_DIR")
    # Bounds that make a request fail fast (503, "the database is unavailable") while Postgres
    # is down or full instead of hanging: seconds libpq waits for a new connection
    # (`connect_timeout`; libpq counts anything below 2 as 2) and seconds a request waits for a
    # pooled one (SQLAlchemy's `pool_timeout`, psycopg_pool's `timeout`; the psycopg pools'
    # reconnect attempts give up after as long, so they reconnect that soon after a restart).
    db_connect_timeout_s: int = Field(default=5, ge=2, alias="PROMPTOPS_DB_CONNECT_TIMEOUT_S")
    db_pool_timeout_s: float = Field(default=5.0, gt=0, alias="PROMPTOPS_DB_POOL_TIMEOUT_S")
    # Ping each ORM connection on checkout (one round trip per request): off, see
    # promptops.db.session.get_engine.
    db_pre_ping: bool = Field(default=False, alias="PROMPTOPS_DB_PRE_PING")
    # Request body limits in bytes (413 beyond, see api/limits.py): every route, and dataset
    # imports (POST /api/v1/datasets/{id}/examples), whose JSONL/CSV files are larger.
    max_body_bytes: int = Field(default=8 * 2**20, ge=1, alias="PROMPTOPS_MAX_BODY_BYTES")
    max_upload_bytes: int = Field(default=200 * 2**20, ge=1, alias="PROMPTOPS_MAX_UPLOAD_BYTES")

    @property
    def home_dir(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def pgdata(self) -> Path:
        return self.home_dir / "pgdata"

    @property
    def temporal_db(self) -> Path:
        return self.home_dir / "temporal.db"

    @property
    def embedded_models_file(self) -> Path:
        return self.home_dir / "models.yaml"

    @property
    def resolved_temporal_address(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"

    @property
    def resolved_models_file(self) -> Path:
        return self.models_file or self.embedded_models_file

    @property
    def admin_key_file(self) -> Path:
        return self.home_dir / "admin.key"

    def server_secret(self) -> bytes:
        """The HMAC key of API-key hashes (``PROMPTOPS_SECRET_KEY`` or the embedded file)."""
        if self.secret_key:
            return decode_secret(self.secret_key, name="PROMPTOPS_SECRET_KEY")
        return load_or_create_secret(self.home_dir / "secrets" / "secret_key")

    def data_encryption_key(self) -> bytes:
        """The AES-256-GCM key of provider credentials (``PROMPTOPS_ENCRYPTION_KEY`` or file)."""
        if self.encryption_key:
            return decode_secret(self.encryption_key, name="PROMPTOPS_ENCRYPTION_KEY")
        return load_or_create_secret(self.home_dir / "secrets" / "encryption_key")

    def resolved_api_key(self) -> str | None:
        if self.api_key:
            return self.api_key
        path = self.admin_key_file
        return path.read_text().strip() if path.exists() else None

    @property
    def api_url(self) -> str:
        return f"http://{self.api_host}:{self.api_port}"

    @property
    def temporal_ui_url(self) -> str:
        return f"http://127.0.0.1:{self.temporal_ui_port}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
