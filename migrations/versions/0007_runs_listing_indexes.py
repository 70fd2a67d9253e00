"""runs listing: (project_id, created_at, id) and (prompt_version_id, created_at, id) indexes
for GET /runs (newest first, keyset pages), in place of the single-column project and version
indexes they extend

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 10:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

#: (new index, columns, the single-column index it replaces (a prefix of it), its column).
_INDEXES = (
    ("ix_runs_project_created", ["project_id", "created_at", "id"], "ix_runs_project_id"),
    (
        "ix_runs_version_created",
        ["prompt_version_id", "created_at", "id"],
        "ix_runs_prompt_version_id",
    ),
)


def upgrade() -> None:
    # CONCURRENTLY: the request path inserts runs all the time; a plain CREATE INDEX would
    # block those inserts for as long as the build of a large table takes. It cannot run in
    # a transaction, hence the autocommit block.
    with op.get_context().autocommit_block():
        for name, columns, old in _INDEXES:
            op.create_index(name, "runs", columns, postgresql_concurrently=True, if_not_exists=True)
            op.drop_index(old, table_name="runs", postgresql_concurrently=True, if_exists=True)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        for name, columns, old in _INDEXES:
            op.create_index(
                old, "runs", columns[:1], postgresql_concurrently=True, if_not_exists=True
            )
            op.drop_index(name, table_name="runs", postgresql_concurrently=True, if_exists=True)
