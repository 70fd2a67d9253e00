"""protected labels: per-project protected-label list, and the label history (one row per
value a label took, written by a trigger) that emergency rollbacks check

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

#: A UUID in its text form (guards the casts of the audit-log backfill).
_UUID = "'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'"


def upgrade() -> None:
    op.create_table(
        "protected_labels",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_protected_labels_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_protected_labels")),
        sa.UniqueConstraint("project_id", "name", name=op.f("uq_protected_labels_project_id_name")),
    )
    op.create_index(
        op.f("ix_protected_labels_project_id"), "protected_labels", ["project_id"], unique=False
    )
    op.create_table(
        "label_history",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("prompt_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prompt_version_id", sa.Uuid(), nullable=False),
        sa.Column("previous_version_id", sa.Uuid(), nullable=True),
        sa.Column(
            "moved_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["previous_version_id"],
            ["prompt_versions.id"],
            name=op.f("fk_label_history_previous_version_id_prompt_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["prompt_id"],
            ["prompts.id"],
            name=op.f("fk_label_history_prompt_id_prompts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["prompt_version_id"],
            ["prompt_versions.id"],
            name=op.f("fk_label_history_prompt_version_id_prompt_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_label_history")),
    )
    op.create_index(
        "ix_label_history_prompt_id_name",
        "label_history",
        ["prompt_id", "name", "prompt_version_id"],
        unique=False,
    )

    # Every value a label takes is recorded by the database itself, so no writer (API,
    # deployment activity, a script with plain SQL) can move a label without leaving the fact
    # that the version served under it. ON CONFLICT DO UPDATE fires the UPDATE trigger.
    op.execute(
        """
        CREATE FUNCTION labels_record_history() RETURNS trigger AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                INSERT INTO label_history (prompt_id, name, prompt_version_id)
                VALUES (NEW.prompt_id, NEW.name, NEW.prompt_version_id);
            ELSIF NEW.prompt_version_id IS DISTINCT FROM OLD.prompt_version_id
                  OR NEW.name IS DISTINCT FROM OLD.name THEN
                INSERT INTO label_history (prompt_id, name, prompt_version_id,
                                           previous_version_id)
                VALUES (NEW.prompt_id, NEW.name, NEW.prompt_version_id,
                        CASE WHEN NEW.name = OLD.name THEN OLD.prompt_version_id END);
            END IF;
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql;
        """
    )
    op.execute(
        "CREATE TRIGGER labels_history AFTER INSERT OR UPDATE ON labels "
        "FOR EACH ROW EXECUTE FUNCTION labels_record_history()"
    )
    # History is a record of facts: refuse rewriting it (deletes stay possible, so deleting a
    # prompt still cascades).
    op.execute(
        """
        CREATE FUNCTION label_history_refuse_update() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION 'label_history is append-only: UPDATE refused';
        END;
        $$ LANGUAGE plpgsql;
        """
    )
    op.execute(
        "CREATE TRIGGER label_history_append_only BEFORE UPDATE ON label_history "
        "FOR EACH ROW EXECUTE FUNCTION label_history_refuse_update()"
    )

    # Backfill what is known of the moves made before this revision, oldest first:
    # 1. every audited label.move (PUTs and promotions; entity_id is "{prompt_id}:{name}"),
    op.execute(
        f"""
        INSERT INTO label_history (prompt_id, name, prompt_version_id, previous_version_id,
                                   moved_at)
        SELECT p.id, substr(a.entity_id, 38), v.id, pv.id, a.created_at
        FROM audit_log a
        JOIN prompts p ON p.id::text = split_part(a.entity_id, ':', 1)
        JOIN prompt_versions v ON v.id::text = a.after ->> 'prompt_version_id'
             AND v.prompt_id = p.id
        LEFT JOIN prompt_versions pv ON pv.id::text = a.before ->> 'prompt_version_id'
        WHERE a.action = 'label.move' AND a.entity_type = 'label'
          AND split_part(a.entity_id, ':', 1) ~ {_UUID}
          AND length(a.entity_id) > 37
        ORDER BY a.id
        """
    )
    # 2. every deployment's baseline (the environment's label served it when the deployment
    #    was created) not already recorded,
    op.execute(
        """
        INSERT INTO label_history (prompt_id, name, prompt_version_id, moved_at)
        SELECT DISTINCT ON (d.prompt_id, e.label, d.baseline_version_id)
               d.prompt_id, e.label, d.baseline_version_id, d.created_at
        FROM deployments d
        JOIN (VALUES ('dev', 'dev'), ('staging', 'staging'), ('prod', 'production'))
             AS e(environment, label) ON e.environment = d.environment
        WHERE d.baseline_version_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM label_history h
                          WHERE h.prompt_id = d.prompt_id AND h.name = e.label
                            AND h.prompt_version_id = d.baseline_version_id)
        ORDER BY d.prompt_id, e.label, d.baseline_version_id, d.created_at
        """
    )
    # 3. and every label's current value not already recorded.
    op.execute(
        """
        INSERT INTO label_history (prompt_id, name, prompt_version_id, moved_at)
        SELECT l.prompt_id, l.name, l.prompt_version_id, l.updated_at
        FROM labels l
        WHERE NOT EXISTS (SELECT 1 FROM label_history h
                          WHERE h.prompt_id = l.prompt_id AND h.name = l.name
                            AND h.prompt_version_id = l.prompt_version_id)
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS labels_history ON labels")
    op.execute("DROP FUNCTION IF EXISTS labels_record_history()")
    op.execute("DROP TRIGGER IF EXISTS label_history_append_only ON label_history")
    op.execute("DROP FUNCTION IF EXISTS label_history_refuse_update()")
    op.drop_index("ix_label_history_prompt_id_name", table_name="label_history")
    op.drop_table("label_history")
    op.drop_index(op.f("ix_protected_labels_project_id"), table_name="protected_labels")
    op.drop_table("protected_labels")
