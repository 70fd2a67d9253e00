"""The local Admin API key of the embedded stack, ``PROMPTOPS_HOME/admin.key``.

``promptops up`` makes sure the file holds a live Admin key of organization ``default`` for the
local user once the database is migrated; the CLI reads it, and people export it for curl.
"""

from __future__ import annotations

import os
from pathlib import Path

from promptops.settings import Settings

ADMIN_EMAIL = "local@promptops.local"


def ensure_admin_key(settings: Settings, database_url: str) -> tuple[Path, bool]:
    """Make sure ``PROMPTOPS_HOME/admin.key`` holds a live Admin key of organization
    ``default`` for the local user; issue one (file mode 0600) if it is missing, revoked or
    unknown to this database. Returns (path, whether a new key was issued)."""
    import asyncio

    from promptops.db.repositories import IdentityRepository
    from promptops.db.session import get_engine, get_session_factory
    from promptops.governance.identity import bootstrap_admin
    from promptops.governance.security import api_key_prefix, verify_api_key

    path = settings.admin_key_file
    secret = settings.server_secret()
    existing = path.read_text().strip() if path.exists() else ""

    async def _run() -> bool:
        try:
            async with get_session_factory(database_url)() as session:
                prefix = api_key_prefix(existing)
                if prefix:
                    row = await IdentityRepository(session).key_by_prefix(prefix)
                    if (
                        row is not None
                        and row.revoked_at is None
                        and verify_api_key(existing, row.secret_hash, secret)
                    ):
                        return False
                issued = await bootstrap_admin(
                    session,
                    secret,
                    organization="default",
                    email=ADMIN_EMAIL,
                    key_name="local admin (up)",
                )
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp")
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as fh:
                    fh.write(issued.key + "\n")
                await session.commit()
                os.replace(tmp, path)
                return True
        finally:
            await get_engine(database_url).dispose()

    return path, asyncio.run(_run())
