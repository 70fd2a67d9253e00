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

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    def api_url(self) -> str:
        return f"http://{self.api_host}:{self.api_port}"

    @property
    def temporal_ui_url(self) -> str:
        return f"http://127.0.0.1:{self.temporal_ui_port}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
