"""``--explain``: EXPLAIN (ANALYZE, BUFFERS) of the SQL the slowest hybrid query sent.

The repository's statements are captured as they go to the driver (a SQLAlchemy
``before_cursor_execute`` listener on the engine), then re-run with ``EXPLAIN`` prefixed, with
the same parameters, in one transaction that first replays the captured ``SET LOCAL``s (the
dense search's ``hnsw.*`` settings).
"""

from __future__ import annotations

from typing import Any


async def explain_slowest(q: Any, ef: int) -> str:
    """Plans of the searches of the query (index into ``q.texts``) slowest in hybrid mode."""
    from sqlalchemy import event

    worst = (0.0, 0)
    for i in range(len(q.texts)):
        ms, _ = await q.run(i, "hybrid", embed=False, ef=ef)
        worst = max(worst, (ms, i))
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        captured.append((statement, params))

    sync_engine = q.sessions.kw["bind"].sync_engine
    event.listen(sync_engine, "before_cursor_execute", capture)
    try:
        await q.run(worst[1], "hybrid", embed=False, ef=ef)
    finally:
        event.remove(sync_engine, "before_cursor_execute", capture)

    out = [f"query {worst[1]}: {q.texts[worst[1]]!r} ({worst[0]:.1f} ms)"]
    sets = [(s, p) for s, p in captured if s.lstrip().upper().startswith("SET LOCAL")]
    searches = [
        (s, p)
        for s, p in captured
        if "FROM retrieval_chunks" in s and ("<=>" in s or "ts_rank_cd" in s)
    ]
    async with q.sessions() as session:
        conn = await session.connection()
        for statement, params in sets:
            await conn.exec_driver_sql(statement, params)
        for statement, params in searches:
            plan = await conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
            out.append(statement)
            out.extend(row[0] for row in plan)
            out.append("")
    return "\n".join(out)
