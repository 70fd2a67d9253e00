"""retrieval: indexes, sources, documents and chunks (pgvector + tsvector)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 17:00:00.000000
"""

from __future__ import annotations

import pgvector.sqlalchemy
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retrieval_indexes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("embedding_model", sa.String(200), nullable=False),
        sa.Column("embedding_model_version", sa.String(200), nullable=False),
        sa.Column("dimension", sa.Integer(), nullable=False),
        sa.Column("chunking", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("metadata_schema", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("ttl_seconds", sa.Integer(), nullable=True),
        sa.Column("reindex_interval_seconds", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_retrieval_indexes_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_retrieval_indexes_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retrieval_indexes")),
        sa.UniqueConstraint(
            "project_id", "name", name=op.f("uq_retrieval_indexes_project_id_name")
        ),
    )
    op.create_index(op.f("ix_retrieval_indexes_project_id"), "retrieval_indexes", ["project_id"])
    op.create_index(
        op.f("ix_retrieval_indexes_organization_id"), "retrieval_indexes", ["organization_id"]
    )

    op.create_table(
        "retrieval_sources",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("index_id", sa.Uuid(), nullable=False),
        sa.Column("source_key", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("definition", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("last_workflow_id", sa.String(200), nullable=True),
        sa.Column("last_ingested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_stats", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["index_id"],
            ["retrieval_indexes.id"],
            name=op.f("fk_retrieval_sources_index_id_retrieval_indexes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retrieval_sources")),
        sa.UniqueConstraint(
            "index_id", "source_key", name=op.f("uq_retrieval_sources_index_id_source_key")
        ),
    )
    op.create_index(op.f("ix_retrieval_sources_index_id"), "retrieval_sources", ["index_id"])

    op.create_table(
        "retrieval_documents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("index_id", sa.Uuid(), nullable=False),
        sa.Column("source_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("metadata", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("chunk_count", sa.Integer(), nullable=False),
        sa.Column("duplicate_chunks", sa.Integer(), nullable=False),
        sa.Column(
            "ingested_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["index_id"],
            ["retrieval_indexes.id"],
            name=op.f("fk_retrieval_documents_index_id_retrieval_indexes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["retrieval_sources.id"],
            name=op.f("fk_retrieval_documents_source_id_retrieval_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retrieval_documents")),
        sa.UniqueConstraint(
            "index_id", "source", name=op.f("uq_retrieval_documents_index_id_source")
        ),
    )
    op.create_index(op.f("ix_retrieval_documents_index_id"), "retrieval_documents", ["index_id"])
    op.create_index(op.f("ix_retrieval_documents_source_id"), "retrieval_documents", ["source_id"])

    op.create_table(
        "retrieval_chunks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("index_id", sa.Uuid(), nullable=False),
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("token_count", sa.Integer(), nullable=False),
        sa.Column("heading_path", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("heading", sa.Text(), nullable=False),
        sa.Column("anchor", sa.Text(), nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("metadata", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("embedding_model", sa.String(200), nullable=False),
        sa.Column("embedding", pgvector.sqlalchemy.Vector(), nullable=False),
        sa.Column("minhash", sa.LargeBinary(), nullable=True),
        sa.Column(
            "tsv",
            postgresql.TSVECTOR(),
            sa.Computed(
                "setweight(to_tsvector('english', heading), 'A')"
                " || setweight(to_tsvector('english', text), 'B')",
                persisted=True,
            ),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["index_id"],
            ["retrieval_indexes.id"],
            name=op.f("fk_retrieval_chunks_index_id_retrieval_indexes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["retrieval_documents.id"],
            name=op.f("fk_retrieval_chunks_document_id_retrieval_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retrieval_chunks")),
    )
    op.create_index(
        op.f("ix_retrieval_chunks_organization_id"), "retrieval_chunks", ["organization_id"]
    )
    op.create_index(
        "ix_retrieval_chunks_index_document",
        "retrieval_chunks",
        ["index_id", "document_id", "ordinal"],
    )
    op.create_index("ix_retrieval_chunks_tsv", "retrieval_chunks", ["tsv"], postgresql_using="gin")
    op.create_index(
        "ix_retrieval_chunks_metadata",
        "retrieval_chunks",
        ["metadata"],
        postgresql_using="gin",
        postgresql_ops={"metadata": "jsonb_path_ops"},
    )
    op.add_column(
        "runs",
        sa.Column("retrieval", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    # Each retrieval index adds its own partial HNSW index on (embedding::vector(dim)) when it
    # is created (promptops.db.repositories.retrieval.RetrievalRepository.create_vector_index).


def downgrade() -> None:
    op.drop_column("runs", "retrieval")
    op.drop_table("retrieval_chunks")
    op.drop_table("retrieval_documents")
    op.drop_table("retrieval_sources")
    op.drop_table("retrieval_indexes")
