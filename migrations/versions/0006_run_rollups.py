"""run rollups: the dashboard's pre-aggregated figures per (grain, project, model, prompt
version, bucket) with a log-spaced latency histogram, the append-only delta rows every write to
``runs`` leaves (statement triggers), and the backfill of the runs recorded so far

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-10 10:00:00.000000
"""

from __future__ import annotations

import pgvector.sqlalchemy
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

#: The latency sketch, frozen here (``promptops.db.repositories.rollups`` mirrors it and a test
#: checks both agree): a fixed log-spaced histogram in the manner of DDSketch (Masson, Rim, Lee,
#: VLDB 2019). Bin ``i`` holds latencies in (GAMMA**(i-1), GAMMA**i] ms, GAMMA = (1 + a) / (1 - a)
#: = 51/49 for the relative error a = 2 %; latencies are clamped to [0.1 ms, 1 h] first, so the
#: bins run from -57 to 378: 436 of them, stored as a pgvector ``vector(436)`` (position
#: ``i + 58``) whose C ``sum`` aggregate and ``+`` operator merge histograms.
_BIN = "ceil(ln(least(greatest(latency_ms, 0.1), 3600000.0)) / ln(51.0::float8 / 49.0))::integer"
_BINS = 436
_FIRST_BIN = -57

#: The rollup-relevant columns of a run, in the order ``run_rollup_deltas`` lists them.
_DELTA_COLUMNS = (
    "project_id, prompt_version_id, model, created_at, latency_ms, success, cache_hit, "
    "tokens_in, tokens_out, cost_usd"
)


def upgrade() -> None:
    op.create_table(
        "run_rollups",
        sa.Column("grain", sa.String(length=4), nullable=False),
        sa.Column("bucket_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("prompt_version_id", sa.Uuid(), nullable=True),
        sa.Column("runs", sa.BigInteger(), nullable=False),
        sa.Column("successes", sa.BigInteger(), nullable=False),
        sa.Column("cache_hits", sa.BigInteger(), nullable=False),
        sa.Column("tokens_in", sa.BigInteger(), nullable=False),
        sa.Column("tokens_out", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", sa.Numeric(precision=24, scale=8), nullable=False),
        sa.Column("latency_ms_sum", sa.Float(), nullable=False),
        sa.Column("latency_hist", pgvector.sqlalchemy.vector.VECTOR(dim=_BINS), nullable=False),
        sa.CheckConstraint("grain IN ('hour', 'day')", name=op.f("ck_run_rollups_grain")),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_run_rollups_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "grain",
            "project_id",
            "bucket_start",
            "model",
            "prompt_version_id",
            name=op.f("uq_run_rollups_grain"),
            postgresql_nulls_not_distinct=True,
        ),
    )
    # Dashboards of a whole organization read one grain over a time range across projects.
    op.create_index(
        "ix_run_rollups_grain_bucket_start", "run_rollups", ["grain", "bucket_start"], unique=False
    )
    op.create_table(
        "run_rollup_deltas",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("prompt_version_id", sa.Uuid(), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("cache_hit", sa.Boolean(), nullable=False),
        sa.Column("tokens_in", sa.Integer(), nullable=False),
        sa.Column("tokens_out", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Numeric(precision=18, scale=8), nullable=False),
        sa.Column("sign", sa.SmallInteger(), nullable=False),
    )

    # A histogram row is ~1.8 kB: kept inline and uncompressed, so summing thousands of them
    # reads them straight from the page.
    op.execute("ALTER TABLE run_rollups ALTER COLUMN latency_hist SET STORAGE PLAIN")
    op.execute(
        f"""
        CREATE FUNCTION run_latency_bin(latency_ms double precision) RETURNS integer
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        AS $$ SELECT {_BIN} $$
        """
    )
    # The histogram of (bin, count) pairs: an aggregate, so the fold and the reads of deltas not
    # folded yet build it alike. Counts may be negative (deleted runs).
    op.execute(
        f"""
        CREATE FUNCTION run_latency_hist_add(hist real[], bin integer, n bigint)
        RETURNS real[]
        LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
        AS $$
        BEGIN
            IF cardinality(hist) = 0 THEN
                hist := array_fill(0::real, ARRAY[{_BINS}]);
            END IF;
            hist[bin - ({_FIRST_BIN - 1})] := hist[bin - ({_FIRST_BIN - 1})] + n;
            RETURN hist;
        END;
        $$
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION run_latency_hist_final(hist real[]) RETURNS vector
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        AS $$
            SELECT (CASE WHEN cardinality(hist) = 0 THEN array_fill(0::real, ARRAY[{_BINS}])
                         ELSE hist END)::vector({_BINS})
        $$
        """
    )
    op.execute(
        """
        CREATE AGGREGATE run_latency_hist(integer, bigint) (
            SFUNC = run_latency_hist_add, STYPE = real[], INITCOND = '{}',
            FINALFUNC = run_latency_hist_final
        )
        """
    )

    # Every write to runs, whoever makes it (the pipeline's record stage, a cascade from a
    # deleted dataset or evaluation, plain SQL), leaves signed delta rows in the same
    # transaction: inserts +1, deletes -1, updates -1 for the old row and +1 for the new one
    # when a rollup column changed. Appending takes no lock that another writer waits for, so
    # concurrent calls of the same prompt do not queue behind one rollup row until they commit;
    # the fold (a Temporal schedule) moves the deltas into run_rollups, and reads add the deltas
    # not folded yet, so the dashboard is as fresh as the runs table. Statement triggers with
    # transition tables: a bulk insert appends its deltas with one INSERT ... SELECT.
    changed = f"({_qualified('o')}) IS DISTINCT FROM ({_qualified('n')})"
    both = "old_runs o JOIN new_runs n ON n.id = o.id"
    for event, tables, rows in (
        ("INSERT", "NEW TABLE AS new_runs", f"SELECT {_DELTA_COLUMNS}, 1 FROM new_runs"),
        ("DELETE", "OLD TABLE AS old_runs", f"SELECT {_DELTA_COLUMNS}, -1 FROM old_runs"),
        (
            "UPDATE",
            "OLD TABLE AS old_runs NEW TABLE AS new_runs",
            (
                f"SELECT {_qualified('o')}, -1 FROM {both} WHERE {changed} UNION ALL "
                f"SELECT {_qualified('n')}, 1 FROM {both} WHERE {changed}"
            ),
        ),
    ):
        name = f"runs_rollup_{event.lower()}"
        op.execute(
            f"""
            CREATE FUNCTION {name}() RETURNS trigger AS $$
            BEGIN
                INSERT INTO run_rollup_deltas ({_DELTA_COLUMNS}, sign) {rows};
                RETURN NULL;
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON runs REFERENCING {tables} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )

    # The fold: move every delta row into run_rollups, both grains (UTC hours and days), in one
    # statement (the caller's transaction); deltas of a project deleted since are dropped.
    # Returns how many delta rows it moved. Concurrent folds are safe: DELETE ... RETURNING
    # hands each row to one of them, and the upserts of one rollup row queue.
    op.execute(
        """
        CREATE FUNCTION run_rollups_fold() RETURNS bigint
        LANGUAGE sql VOLATILE
        AS $$
        WITH moved AS (
            DELETE FROM run_rollup_deltas RETURNING *
        ), fine AS (
            SELECT g.grain, date_trunc(g.grain, m.created_at, 'UTC') AS bucket_start,
                   m.project_id, m.model, m.prompt_version_id,
                   run_latency_bin(m.latency_ms) AS bin,
                   sum(m.sign) AS runs,
                   coalesce(sum(m.sign) FILTER (WHERE m.success), 0) AS successes,
                   coalesce(sum(m.sign) FILTER (WHERE m.cache_hit), 0) AS cache_hits,
                   sum(m.sign * m.tokens_in::bigint) AS tokens_in,
                   sum(m.sign * m.tokens_out::bigint) AS tokens_out,
                   sum(m.sign * m.cost_usd) AS cost_usd,
                   sum(m.sign * m.latency_ms) AS latency_ms_sum
            FROM moved m
            JOIN projects p ON p.id = m.project_id
            CROSS JOIN (VALUES ('hour'), ('day')) AS g(grain)
            GROUP BY 1, 2, 3, 4, 5, 6
        ), upserted AS (
            INSERT INTO run_rollups AS r (grain, bucket_start, project_id, model,
                                          prompt_version_id, runs, successes, cache_hits,
                                          tokens_in, tokens_out, cost_usd, latency_ms_sum,
                                          latency_hist)
            SELECT grain, bucket_start, project_id, model, prompt_version_id, sum(runs),
                   sum(successes), sum(cache_hits), sum(tokens_in), sum(tokens_out),
                   sum(cost_usd), sum(latency_ms_sum), run_latency_hist(bin, runs)
            FROM fine
            GROUP BY grain, bucket_start, project_id, model, prompt_version_id
            ON CONFLICT (grain, project_id, bucket_start, model, prompt_version_id)
            DO UPDATE SET
                runs = r.runs + EXCLUDED.runs,
                successes = r.successes + EXCLUDED.successes,
                cache_hits = r.cache_hits + EXCLUDED.cache_hits,
                tokens_in = r.tokens_in + EXCLUDED.tokens_in,
                tokens_out = r.tokens_out + EXCLUDED.tokens_out,
                cost_usd = r.cost_usd + EXCLUDED.cost_usd,
                latency_ms_sum = r.latency_ms_sum + EXCLUDED.latency_ms_sum,
                latency_hist = r.latency_hist + EXCLUDED.latency_hist
            RETURNING 1
        )
        SELECT count(*) FROM moved
        $$
        """
    )

    # Backfill: the runs recorded so far, folded at once.
    op.execute(
        f"INSERT INTO run_rollup_deltas ({_DELTA_COLUMNS}, sign) "
        f"SELECT {_DELTA_COLUMNS}, 1 FROM runs"
    )
    op.execute("SELECT run_rollups_fold()")


def _qualified(alias: str) -> str:
    return ", ".join(f"{alias}.{c.strip()}" for c in _DELTA_COLUMNS.split(","))


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS run_rollups_fold()")
    for event in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS runs_rollup_{event} ON runs")
        op.execute(f"DROP FUNCTION IF EXISTS runs_rollup_{event}()")
    op.execute("DROP AGGREGATE IF EXISTS run_latency_hist(integer, bigint)")
    op.execute("DROP FUNCTION IF EXISTS run_latency_hist_final(real[])")
    op.execute("DROP FUNCTION IF EXISTS run_latency_hist_add(real[], integer, bigint)")
    op.execute("DROP FUNCTION IF EXISTS run_latency_bin(double precision)")
    op.drop_table("run_rollup_deltas")
    op.drop_index("ix_run_rollups_grain_bucket_start", table_name="run_rollups")
    op.drop_table("run_rollups")
