"""`bamrung users` and `bamrung audit`: accounts, tokens and who saw what."""

from __future__ import annotations

import getpass
import json
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from api.cli.common import engine, errors, out
from geo.access import ROLES
from layers.access import records, users
from layers.store.settings import Settings

users_app = typer.Typer(help="Users, roles and API tokens.", no_args_is_help=True)
audit_app = typer.Typer(help="The PDPA access log: who saw which household.", no_args_is_help=True)


@users_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="login name")],
    role: Annotated[str, typer.Option(help=" | ".join(ROLES))],
    area: Annotated[str | None, typer.Option(help="the area the role covers (code)")] = None,
    categories: Annotated[
        list[str] | None, typer.Option(help="agency_officer: its mandate's categories (repeat)")
    ] = None,
    household: Annotated[str | None, typer.Option(help="citizen: their household id")] = None,
    community: Annotated[str | None, typer.Option(help="community_leader: the community")] = None,
    office: Annotated[
        str | None, typer.Option(help="agency_officer: the office whose cases it answers")
    ] = None,
    password: Annotated[
        str | None, typer.Option(help="password (asked for when omitted; '' for token-only)")
    ] = None,
) -> None:
    """Create a user; without --password you are asked for one (empty: API tokens only)."""
    if password is None:
        password = getpass.getpass(f"password for {name} (empty: tokens only): ")
    with errors(), engine(Settings()).begin() as conn:
        user = users.add_user(
            conn,
            name,
            role,
            area=area,
            categories=categories,
            household=household,
            community=community,
            office=office,
            password=password or None,
        )
    out.print(f"user {user.name}: {user.role}, area {user.scope.area or 'Thailand'}")


@users_app.command("list")
def list_all(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every user with their role, scope and live token count."""
    with errors(), engine(Settings()).connect() as conn:
        found = users.list_users(conn)
    if as_json:
        out.print_json(json.dumps(found, ensure_ascii=False))
        return
    table = Table("name", "role", "area", "categories", "household", "community", "tokens")
    for u in found:
        table.add_row(
            u["name"],
            u["role"],
            u["area"] or "Thailand",
            ", ".join(u["categories"] or []),
            u["household_id"] or "",
            u["community"] or "",
            str(u["tokens"]),
        )
    out.print(table)


@users_app.command("token")
def token(
    name: Annotated[str, typer.Argument(help="user")],
    label: Annotated[str | None, typer.Option(help="what the token is for")] = None,
) -> None:
    """Issue a long-lived API token (shown once; only its hash is kept)."""
    with errors(), engine(Settings()).begin() as conn:
        issued = users.issue_token(conn, name, label)
    out.print(issued)


@users_app.command("revoke")
def revoke(name: Annotated[str, typer.Argument(help="user")]) -> None:
    """Revoke every API token of a user."""
    with errors(), engine(Settings()).begin() as conn:
        count = users.revoke(conn, name)
    out.print(f"revoked {count} token(s) of {name}")


@audit_app.command("who-saw")
def who_saw(
    household: Annotated[str | None, typer.Option(help="household id")] = None,
    user: Annotated[str | None, typer.Option(help="user name")] = None,
    since: Annotated[datetime | None, typer.Option("--from", help="from (ISO time)")] = None,
    until: Annotated[datetime | None, typer.Option("--to", help="until (ISO time)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Who was shown a household's personal data, or what a user was shown, and when."""
    if (household is None) == (user is None):
        raise typer.BadParameter("give --household ID or --user NAME")
    with errors(), engine(Settings()).connect() as conn:
        rows = (
            records.who_saw(conn, household)
            if household is not None
            else records.seen_by(conn, user or "", since, until)
        )
    if as_json:
        out.print_json(json.dumps(rows, ensure_ascii=False, default=str))
        return
    table = Table("at", "user", "role", "purpose", "path", "request", "households", "fields")
    for r in rows:
        table.add_row(
            str(r["at"]),
            r["user_name"],
            r["role"],
            r["purpose"],
            r["path"],
            r["request_id"],
            str(len(r.get("households", [household]))),
            ", ".join(r["fields"]),
        )
    out.print(table)
