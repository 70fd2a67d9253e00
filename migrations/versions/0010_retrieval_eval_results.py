"""retrieval evaluations: per-example results keyed by (evaluation, config, example)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 18:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retrieval_eval_results",
        sa.Column("evaluation_id", sa.String(200), nullable=False),
        sa.Column("config_id", sa.String(40), nullable=False),
        sa.Column("example_id", sa.Uuid(), nullable=False),
        sa.Column("metrics", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("hits", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("ranking", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["evaluation_id"],
            ["evaluations.id"],
            name=op.f("fk_retrieval_eval_results_evaluation_id_evaluations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["example_id"],
            ["examples.id"],
            name=op.f("fk_retrieval_eval_results_example_id_examples"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "evaluation_id", "config_id", "example_id", name=op.f("pk_retrieval_eval_results")
        ),
    )
    op.create_index(
        op.f("ix_retrieval_eval_results_example_id"), "retrieval_eval_results", ["example_id"]
    )


def downgrade() -> None:
    op.drop_table("retrieval_eval_results")
