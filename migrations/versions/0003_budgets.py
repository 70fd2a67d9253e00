"""budgets: per-project USD/token limits per day and month, and usage rows with reservations

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 13:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "project_budgets",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("daily_usd", sa.Numeric(precision=20, scale=10), nullable=True),
        sa.Column("monthly_usd", sa.Numeric(precision=20, scale=10), nullable=True),
        sa.Column("daily_tokens", sa.BigInteger(), nullable=True),
        sa.Column("monthly_tokens", sa.BigInteger(), nullable=True),
        sa.Column("updated_by", sa.String(length=320), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "daily_usd IS NULL OR daily_usd >= 0", name=op.f("ck_project_budgets_daily_usd_nonneg")
        ),
        sa.CheckConstraint(
            "monthly_usd IS NULL OR monthly_usd >= 0",
            name=op.f("ck_project_budgets_monthly_usd_nonneg"),
        ),
        sa.CheckConstraint(
            "daily_tokens IS NULL OR daily_tokens >= 0",
            name=op.f("ck_project_budgets_daily_tokens_nonneg"),
        ),
        sa.CheckConstraint(
            "monthly_tokens IS NULL OR monthly_tokens >= 0",
            name=op.f("ck_project_budgets_monthly_tokens_nonneg"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_project_budgets_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_project_budgets")),
    )
    op.create_table(
        "budget_usage",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column(
            "spent_usd", sa.Numeric(precision=20, scale=10), server_default="0", nullable=False
        ),
        sa.Column(
            "reserved_usd", sa.Numeric(precision=20, scale=10), server_default="0", nullable=False
        ),
        sa.Column("spent_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("reserved_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.CheckConstraint("period IN ('day', 'month')", name=op.f("ck_budget_usage_period")),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_budget_usage_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "project_id", "period", "period_start", name=op.f("pk_budget_usage")
        ),
    )


def downgrade() -> None:
    op.drop_table("budget_usage")
    op.drop_table("project_budgets")
