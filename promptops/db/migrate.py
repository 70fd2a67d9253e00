"""Apply Alembic migrations programmatically (used by ``promptops up`` and test fixtures)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from promptops.db.session import normalize_url

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return cfg


def upgrade_head(url: str) -> None:
    """Migrate the database at ``url`` to the newest revision (idempotent)."""
    command.upgrade(alembic_config(url), "head")
