"""gateway: routing policies, exact and semantic caches, provider health checks, per-key rate
limits, and the run's cache/routing/attempts columns

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 17:00:00.000000
"""

from __future__ import annotations

import pgvector.sqlalchemy
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "routing_policies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("strategy", sa.String(length=20), nullable=False),
        sa.Column("candidates", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("fallbacks", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("constraints", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(length=320), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "strategy IN ('cost_first', 'quality_first', 'latency_first')",
            name=op.f("ck_routing_policies_strategy"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_routing_policies_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_policies")),
        sa.UniqueConstraint("project_id", "name", name=op.f("uq_routing_policies_project_id_name")),
    )
    op.create_index(
        op.f("ix_routing_policies_project_id"), "routing_policies", ["project_id"], unique=False
    )

    op.create_table(
        "cache_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("cache_key", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("prompt_version_id", sa.Uuid(), nullable=True),
        sa.Column("response", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("hits", sa.Integer(), server_default="0", nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_cache_entries_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_cache_entries_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["prompt_version_id"],
            ["prompt_versions.id"],
            name=op.f("fk_cache_entries_prompt_version_id_prompt_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cache_entries")),
        sa.UniqueConstraint(
            "project_id", "cache_key", name=op.f("uq_cache_entries_project_id_cache_key")
        ),
    )
    op.create_index(
        op.f("ix_cache_entries_organization_id"), "cache_entries", ["organization_id"], unique=False
    )
    op.create_index(
        op.f("ix_cache_entries_prompt_version_id"),
        "cache_entries",
        ["prompt_version_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_cache_entries_expires_at"), "cache_entries", ["expires_at"], unique=False
    )

    op.create_table(
        "semantic_cache_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("prompt_version_id", sa.Uuid(), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("params_key", sa.String(length=64), nullable=False),
        sa.Column("prompt_text", sa.Text(), nullable=False),
        sa.Column("embedding", pgvector.sqlalchemy.Vector(dim=384), nullable=False),
        sa.Column("response", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("hits", sa.Integer(), server_default="0", nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_semantic_cache_entries_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_semantic_cache_entries_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["prompt_version_id"],
            ["prompt_versions.id"],
            name=op.f("fk_semantic_cache_entries_prompt_version_id_prompt_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_semantic_cache_entries")),
    )
    op.create_index(
        op.f("ix_semantic_cache_entries_organization_id"),
        "semantic_cache_entries",
        ["organization_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_semantic_cache_entries_expires_at"),
        "semantic_cache_entries",
        ["expires_at"],
        unique=False,
    )
    op.create_index(
        "ix_semantic_cache_entries_scope",
        "semantic_cache_entries",
        ["project_id", "prompt_version_id", "model", "params_key"],
        unique=False,
    )
    op.create_index(
        "ix_semantic_cache_entries_embedding",
        "semantic_cache_entries",
        ["embedding"],
        unique=False,
        postgresql_using="hnsw",
        postgresql_ops={"embedding": "vector_cosine_ops"},
    )

    op.create_table(
        "provider_health_checks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column(
            "checked_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_health_checks")),
    )
    op.create_index(
        "ix_provider_health_checks_model_checked",
        "provider_health_checks",
        ["model_name", "checked_at"],
        unique=False,
    )

    op.create_table(
        "rate_limit_windows",
        sa.Column("api_key_id", sa.Uuid(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_keys.id"],
            name=op.f("fk_rate_limit_windows_api_key_id_api_keys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("api_key_id", "window_start", name=op.f("pk_rate_limit_windows")),
    )

    op.add_column("api_keys", sa.Column("rate_limit_rpm", sa.Integer(), nullable=True))
    op.add_column(
        "projects",
        sa.Column(
            "cache_settings",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
    )
    op.add_column(
        "runs", sa.Column("cache_hit", sa.Boolean(), server_default="false", nullable=False)
    )
    op.add_column("runs", sa.Column("cache_kind", sa.String(length=10), nullable=True))
    op.add_column(
        "runs", sa.Column("routing", postgresql.JSONB(astext_type=sa.Text()), nullable=True)
    )
    op.add_column(
        "runs", sa.Column("attempts", postgresql.JSONB(astext_type=sa.Text()), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("runs", "attempts")
    op.drop_column("runs", "routing")
    op.drop_column("runs", "cache_kind")
    op.drop_column("runs", "cache_hit")
    op.drop_column("projects", "cache_settings")
    op.drop_column("api_keys", "rate_limit_rpm")
    op.drop_table("rate_limit_windows")
    op.drop_index("ix_provider_health_checks_model_checked", table_name="provider_health_checks")
    op.drop_table("provider_health_checks")
    op.drop_index(
        "ix_semantic_cache_entries_embedding",
        table_name="semantic_cache_entries",
        postgresql_using="hnsw",
        postgresql_ops={"embedding": "vector_cosine_ops"},
    )
    op.drop_index("ix_semantic_cache_entries_scope", table_name="semantic_cache_entries")
    op.drop_index(op.f("ix_semantic_cache_entries_expires_at"), table_name="semantic_cache_entries")
    op.drop_index(
        op.f("ix_semantic_cache_entries_organization_id"), table_name="semantic_cache_entries"
    )
    op.drop_table("semantic_cache_entries")
    op.drop_index(op.f("ix_cache_entries_expires_at"), table_name="cache_entries")
    op.drop_index(op.f("ix_cache_entries_prompt_version_id"), table_name="cache_entries")
    op.drop_index(op.f("ix_cache_entries_organization_id"), table_name="cache_entries")
    op.drop_table("cache_entries")
    op.drop_index(op.f("ix_routing_policies_project_id"), table_name="routing_policies")
    op.drop_table("routing_policies")
