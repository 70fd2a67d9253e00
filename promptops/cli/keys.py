"""``promptops keys create|list|revoke|rotate`` and ``promptops members list|add|update|remove``:
identity administration through the REST API (with the key from ``PROMPTOPS_API_KEY`` or the
admin key file written by ``promptops up``)."""

from __future__ import annotations

import uuid
from typing import Any

import typer

keys_app = typer.Typer(help="Create, list, rotate and revoke API keys.", no_args_is_help=True)
members_app = typer.Typer(
    help="List, add, change and remove members of the organization.", no_args_is_help=True
)

ROLES = ("Admin", "Editor", "Viewer")


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _call(method: str, path: str, **kwargs: Any) -> Any:
    from promptops.cli.evals import call

    return call(method, path, **kwargs)


def _role(value: str) -> str:
    for role in ROLES:
        if role.lower() == value.strip().lower():
            return role
    raise typer.BadParameter(f"{value!r} is not one of {', '.join(ROLES)}")


def _time(value: str | None) -> str:
    return value[:19].replace("T", " ") if value else "-"


def _key_status(key: dict[str, Any]) -> str:
    from datetime import UTC, datetime

    if key.get("revoked_at"):
        return "[red]revoked[/red]"
    expires = key.get("expires_at")
    if expires and datetime.fromisoformat(expires) <= datetime.now(UTC):
        return "[yellow]expired[/yellow]"
    return "[green]active[/green]"


def _print_new_key(created: dict[str, Any], title: str) -> None:
    out = _console()
    out.print(
        f"{title}: [bold]{created['name']}[/bold] ({created['role']}"
        f"{', project ' + created['project_id'] if created.get('project_id') else ''}"
        f") for {created['user_email']}, id {created['id']}"
    )
    out.print(f"\n  [bold]{created['key']}[/bold]\n")
    _console(stderr=True).print(
        "[bold yellow]Warning:[/bold yellow] this key is shown once and cannot be retrieved "
        "again. Store it now (e.g. in PROMPTOPS_API_KEY or a secret manager)."
    )


def _resolve_key_id(ref: str) -> str:
    """Accept a key id or its prefix (the part after ``po_`` shown by ``keys list``)."""
    try:
        return str(uuid.UUID(ref))
    except ValueError:
        pass
    prefix = ref.removeprefix("po_").split("_")[0]
    matches = [k for k in _call("GET", "/api_keys")["data"] if k["prefix"] == prefix]
    if not matches:
        from promptops.cli.evals import fail

        fail(f"no API key with id or prefix {ref!r}")
        raise typer.Exit(1)
    return str(matches[0]["id"])


@keys_app.command("create")
def create_key(
    name: str = typer.Argument(..., help="a name to recognise the key by"),
    role: str = typer.Option("Editor", "--role", help="Admin, Editor or Viewer"),
    project: str | None = typer.Option(None, "--project", help="scope the key to a project id"),
    user: str | None = typer.Option(
        None, "--user", help="issue it to this member's email (Admin only)"
    ),
    expires_at: str | None = typer.Option(
        None, "--expires-at", help="ISO 8601 time after which it is refused"
    ),
    rate_limit_rpm: int | None = typer.Option(
        None, "--rate-limit-rpm", min=1, help="requests per minute (default: unlimited)"
    ),
) -> None:
    """Create an API key and print it once."""
    body = {
        "name": name,
        "role": _role(role),
        "project_id": project,
        "user_email": user,
        "expires_at": expires_at,
        "rate_limit_rpm": rate_limit_rpm,
    }
    _print_new_key(_call("POST", "/api_keys", json=body), "Created API key")


@keys_app.command("list")
def list_keys() -> None:
    """Your keys (all of the organization's for an Admin); never the secrets."""
    from rich.table import Table

    keys = _call("GET", "/api_keys")["data"]
    table = Table(title=f"API keys ({len(keys)})")
    for column in (
        "id",
        "prefix",
        "name",
        "role",
        "project",
        "user",
        "status",
        "created",
        "last used",
        "expires",
        "rpm limit",
    ):
        table.add_column(column, overflow="fold")
    for k in keys:
        table.add_row(
            k["id"],
            k["prefix"],
            k["name"],
            k["role"],
            k["project_id"] or "-",
            k["user_email"],
            _key_status(k),
            _time(k["created_at"]),
            _time(k["last_used_at"]),
            _time(k["expires_at"]),
            str(k.get("rate_limit_rpm") or "-"),
        )
    _console().print(table)


@keys_app.command("revoke")
def revoke_key(key: str = typer.Argument(..., help="key id or prefix")) -> None:
    """Revoke a key at once (it stays listed as revoked)."""
    revoked = _call("DELETE", f"/api_keys/{_resolve_key_id(key)}")
    _console().print(
        f"Revoked API key [bold]{revoked['name']}[/bold] ({revoked['prefix']}) "
        f"at {_time(revoked['revoked_at'])}"
    )


@keys_app.command("rotate")
def rotate_key(key: str = typer.Argument(..., help="key id or prefix")) -> None:
    """Replace a key with a new one (same name, role, scope); the old key stops working now."""
    created = _call("POST", f"/api_keys/{_resolve_key_id(key)}/rotate")
    _print_new_key(created, "Rotated: the old key is revoked; new API key")


def _resolve_user_id(ref: str) -> str:
    """Accept a user id or an email."""
    try:
        return str(uuid.UUID(ref))
    except ValueError:
        pass
    for member in _call("GET", "/members")["data"]:
        if member["email"] == ref:
            return str(member["user_id"])
    from promptops.cli.evals import fail

    fail(f"{ref} is not a member of this organization")
    raise typer.Exit(1)


@members_app.command("list")
def list_members() -> None:
    """Members of the organization with their roles."""
    from rich.table import Table

    members = _call("GET", "/members")["data"]
    table = Table(title=f"Members ({len(members)})")
    for column in ("user id", "email", "role", "project", "since"):
        table.add_column(column, overflow="fold")
    for m in members:
        table.add_row(
            m["user_id"], m["email"], m["role"], m["project_id"] or "(all)", _time(m["created_at"])
        )
    _console().print(table)


@members_app.command("add")
def add_member(
    email: str = typer.Argument(...),
    role: str = typer.Option("Viewer", "--role", help="Admin, Editor or Viewer"),
    project: str | None = typer.Option(
        None, "--project", help="narrow the membership to one project id"
    ),
) -> None:
    """Add a user (created if new) to the organization."""
    m = _call("POST", "/members", json={"email": email, "role": _role(role), "project_id": project})
    _console().print(
        f"Added [bold]{m['email']}[/bold] as {m['role']}"
        f"{' of project ' + m['project_id'] if m['project_id'] else ''} "
        f"(user id {m['user_id']}). Create a key for them with "
        f"`promptops keys create NAME --user {m['email']} --role {m['role']}`."
    )


@members_app.command("update")
def update_member(
    user: str = typer.Argument(..., help="user id or email"),
    role: str | None = typer.Option(None, "--role", help="Admin, Editor or Viewer"),
    project: str | None = typer.Option(
        None, "--project", help="narrow to this project id; 'all' widens"
    ),
) -> None:
    """Change a member's role or project narrowing."""
    body: dict[str, Any] = {}
    if role is not None:
        body["role"] = _role(role)
    if project is not None:
        body["project_id"] = None if project == "all" else project
    if not body:
        raise typer.BadParameter("give --role and/or --project")
    m = _call("PATCH", f"/members/{_resolve_user_id(user)}", json=body)
    _console().print(
        f"{m['email']} is now {m['role']}"
        f"{' of project ' + m['project_id'] if m['project_id'] else ''}"
    )


@members_app.command("remove")
def remove_member(user: str = typer.Argument(..., help="user id or email")) -> None:
    """Remove a member; their API keys of this organization are revoked."""
    removed = _call("DELETE", f"/members/{_resolve_user_id(user)}")
    _console().print(f"Removed {removed['email']}; revoked {removed['revoked_keys']} API key(s)")


@keys_app.command("bootstrap")
def bootstrap_key(
    organization: str = typer.Option(..., "--org", help="organization name (created if new)"),
    email: str = typer.Option(..., "--email", help="the Admin user's email (created if new)"),
    name: str = typer.Option("bootstrap", help="key name"),
) -> None:
    """Issue an Admin key straight in the database (``DATABASE_URL``), for the first key of an
    organization in a cluster where no key exists yet. Needs ``PROMPTOPS_SECRET_KEY`` to be the
    API's. The key is printed once."""
    import asyncio

    from promptops.cli.evals import fail
    from promptops.db.session import get_engine, get_session_factory
    from promptops.devstack.runtime import resolve_database_url
    from promptops.governance.identity import IssuedKey, bootstrap_admin
    from promptops.settings import InvalidSecret, get_settings

    settings = get_settings()
    try:
        secret = settings.server_secret()
        url = resolve_database_url(settings)
    except (InvalidSecret, OSError, RuntimeError) as exc:
        fail(str(exc))
        return

    async def run() -> IssuedKey:
        try:
            async with get_session_factory(url)() as session:
                issued = await bootstrap_admin(
                    session, secret, organization=organization, email=email, key_name=name
                )
                await session.commit()
                return issued
        finally:
            await get_engine(url).dispose()

    try:
        key = asyncio.run(run())
    except Exception as exc:  # noqa: BLE001 - a clean message, not a traceback
        fail(f"cannot issue the key: {type(exc).__name__}: {exc}".splitlines()[0])
        return
    _print_new_key(
        {"key": key.key, "name": name, "role": "Admin", "user_email": email, "id": str(key.id)},
        f"New key in organization {organization}",
    )


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
    app.add_typer(members_app, name="members")
