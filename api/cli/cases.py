"""`bamrung cases`: hand problems to the offices that hold the authority, and follow them.

The command line acts as the operator (an admin) unless ``--as NAME`` names a user: then that
user's role and scope apply, as over the API. ``--now`` (or ``BAMRUNG_CLOCK``) sets the clock.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from api.cli.common import console, engine, errors, out, progress
from geo.access import scope_of
from geo.cases.workflow import REJECTION_REASONS
from geo.errors import InvalidInputError, NotFoundError
from geo.vocab import DIMENSIONS
from layers.access import records, users
from layers.cases import actions, attachments, delivery, queries, referral
from layers.cases.escalation import escalate
from layers.cases.events import Actor, clock, today
from layers.cases.routing import coverage
from layers.store.keys import pii_key
from layers.store.settings import Settings

cases_app = typer.Typer(
    help="Case hand-off: refer problems to offices, answer for them, follow them to the end.",
    no_args_is_help=True,
)
routes_app = typer.Typer(help="The routing of categories to offices.", no_args_is_help=True)
cases_app.add_typer(routes_app, name="routes")

As = Annotated[str | None, typer.Option("--as", help="act as this user (their role and scope)")]
Now = Annotated[
    dt.datetime | None,
    typer.Option(help="the clock (default BAMRUNG_CLOCK, else now)", show_default=False),
]
Note = Annotated[str | None, typer.Option(help="what was done, or why")]
CaseId = Annotated[int, typer.Argument(help="the case (see `bamrung cases list`)", min=1)]
Version = Annotated[
    int | None,
    typer.Option(help="the version you read (default: the current one)", show_default=False),
]


def _settings(now: dt.datetime | None) -> tuple[Settings, dt.datetime]:
    settings = Settings()
    if now is not None:
        settings = settings.model_copy(update={"clock": now})
    return settings, clock(settings)


def _actor(conn: Any, name: str | None) -> Actor:
    if name is None:
        return Actor(f"cli:{getpass.getuser()}", "admin", scope_of("admin", None))
    user = users.user_named(conn, name)
    if user is None:
        raise NotFoundError(f"no enabled user named {name!r}")
    return Actor(user.name, user.role, user.scope)


def _log(conn: Any, actor: Actor, households: list[str], purpose: str) -> None:
    if households:
        records.log_access(
            conn,
            user=actor.name,
            role=actor.role,
            purpose=purpose,
            request_id=f"cli-{uuid.uuid4()}",
            client_request_id=None,
            path="bamrung cases",
            households=households,
            fields=["household_id", "case"],
        )


@cases_app.command("list")
def list_cases(
    office: Annotated[str | None, typer.Option(help="an office code")] = None,
    state: Annotated[str | None, typer.Option(help="a case state")] = None,
    overdue: Annotated[bool | None, typer.Option(help="overdue ones only (or not)")] = None,
    area: Annotated[str | None, typer.Option(help="an area code")] = None,
    category: Annotated[str | None, typer.Option(help="a category code")] = None,
    dimension: Annotated[str | None, typer.Option(help=" | ".join(DIMENSIONS))] = None,
    escalated: Annotated[bool | None, typer.Option(help="escalated ones only (or not)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    as_user: As = None,
    now: Now = None,
    purpose: Annotated[str, typer.Option(help="why (kept in the PDPA access log)")] = "not stated",
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False,
) -> None:
    """A queue of cases, overdue first."""
    settings, at = _settings(now)
    given = queries.CaseFilter(office, state, overdue, area, category, dimension, escalated)
    with errors(), engine(settings).begin() as conn:
        actor = _actor(conn, as_user)
        items, total = queries.list_cases(
            conn, actor.scope, given, today=today(at), limit=limit, offset=offset
        )
        _log(conn, actor, [i["household_id"] for i in items], purpose)
        items = queries.view(items, actor.scope.pseudonymised, pii_key(settings))
    if as_json:
        out.print_json(json.dumps({"items": items, "total": total}, default=str))
        return
    table = Table(
        "case",
        "category",
        "subdistrict",
        "office",
        "state",
        "due",
        "level",
        "overdue",
        title=f"{total:,} cases",
    )
    for item in items:
        due = item["acknowledge_by"] if item["state"] == "referred" else item["resolve_by"]
        table.add_row(
            str(item["id"]),
            item["category"],
            item["subdistrict_code"],
            escape(item["office"]),
            item["state"],
            str(due or ""),
            item["ladder"],
            "yes" if item["overdue"] else "",
        )
    out.print(table)


@cases_app.command("show")
def show(
    case_id: CaseId,
    as_user: As = None,
    now: Now = None,
    purpose: Annotated[str, typer.Option(help="why (kept in the PDPA access log)")] = "not stated",
) -> None:
    """One case and its whole history, in order (JSON)."""
    settings, at = _settings(now)
    with errors(), engine(settings).begin() as conn:
        actor = _actor(conn, as_user)
        found = queries.get_case(conn, actor.scope, case_id, today=today(at))
        _log(conn, actor, [found["household_id"]], purpose)
        found = queries.view([found], actor.scope.pseudonymised, pii_key(settings))[0]
    out.print_json(json.dumps(found, default=str, ensure_ascii=False))


@cases_app.command("refer")
def refer(
    area: Annotated[list[str] | None, typer.Option(help="area code (repeat for several)")] = None,
    targeting_run: Annotated[
        int | None, typer.Option(help="refer the top areas of this targeting run")
    ] = None,
    top: Annotated[int, typer.Option(min=1, help="with --targeting-run: how many areas")] = 10,
    category: Annotated[list[str] | None, typer.Option(help="category code (repeat)")] = None,
    dimension: Annotated[str | None, typer.Option(help=" | ".join(DIMENSIONS))] = None,
    round_: Annotated[int | None, typer.Option("--round", help="default the latest")] = None,
    dry_run: Annotated[bool, typer.Option(help="count per office, change nothing")] = False,
    as_user: As = None,
    now: Now = None,
) -> None:
    """Refer every open problem of the areas (and filters) to its routed office.

    Batched by district and idempotent: run it again and it refers only what is left.
    """
    settings, at = _settings(now)
    with errors():
        database = engine(settings)
        with database.connect() as conn:
            actor = _actor(conn, as_user)
            areas = list(area or [])
            if targeting_run is not None:
                areas += referral.top_areas(conn, targeting_run, top)
        if not areas:
            raise InvalidInputError("area: give --area, or --targeting-run", field="area")
        with progress(counted=True) as bar:
            task = bar.add_task("referring, batch by batch", total=None)
            done = referral.refer(
                database,
                actor,
                areas=areas,
                now=at,
                categories=category,
                dimension=dimension,
                round_=round_,
                dry_run=dry_run,
                progress=lambda n, of: bar.update(task, completed=n, total=of),
            )
    table = Table("office", "cases", title=("would refer" if dry_run else "referred"))
    for office, n in sorted(done.offices.items()):
        table.add_row(escape(office), f"{n:,}")
    out.print(table)
    out.print(
        f"{done.cases:,} cases {'would be ' if dry_run else ''}created in {done.batches} "
        f"batches, round {done.round}; {done.unrouted:,} problems without a route"
    )


def _act(
    case_id: int,
    action: str,
    as_user: str | None,
    now: dt.datetime | None,
    version: int | None,
    attach: Path | None = None,
    **given: Any,
) -> None:
    settings, at = _settings(now)
    with errors(), engine(settings).begin() as conn:
        actor = _actor(conn, as_user)
        if version is None:
            version = queries.get_case(conn, actor.scope, case_id, today=today(at))["version"]
        if attach is None:
            new = actions.act(conn, actor, case_id, action, version=version, now=at, **given)
        else:
            new = attachments.attach(
                conn, settings, actor, case_id, version=version, now=at, name=attach.name,
                data=attach.read_bytes(), **given,
            )  # fmt: skip
    shown = f" with {attach.name}" if attach else ""
    out.print(f"case {case_id}: {action} done{shown}, now at version {new}")


@cases_app.command("ack")
def ack(
    case_id: CaseId,
    expected: Annotated[dt.datetime, typer.Option(help="when the office expects to resolve it")],
    note: Note = None,
    as_user: As = None,
    now: Now = None,
    version: Version = None,
) -> None:
    """Acknowledge a case for an office, with the date it expects to resolve it."""
    _act(case_id, "acknowledge", as_user, now, version, note=note, expected_on=expected.date())


@cases_app.command("progress")
def progress_note(
    case_id: CaseId,
    note: Note = None,
    attach: Annotated[
        Path | None, typer.Option(help="a PDF, PNG or JPEG to attach", exists=True, dir_okay=False)
    ] = None,
    as_user: As = None,
    now: Now = None,
    version: Version = None,
) -> None:
    """Record progress on a case, optionally with a file."""
    _act(case_id, "progress", as_user, now, version, attach, note=note)


@cases_app.command("resolve")
def resolve(
    case_id: CaseId,
    by: Annotated[str, typer.Option(help="agency | household: who solved it")],
    note: Note = None,
    as_user: As = None,
    now: Now = None,
    version: Version = None,
) -> None:
    """Mark a case resolved, solved by the agency or by the household."""
    _act(case_id, "resolve", as_user, now, version, note=note, resolution=f"solved_by_{by}")


@cases_app.command("reject")
def reject(
    case_id: CaseId,
    reason: Annotated[str, typer.Option(help=" | ".join(REJECTION_REASONS))],
    note: Note = None,
    suggest: Annotated[str | None, typer.Option(help="the office it should go to")] = None,
    as_user: As = None,
    now: Now = None,
    version: Version = None,
) -> None:
    """Refuse a case: it goes to the suggested office, else back to the district team."""
    _act(case_id, "reject", as_user, now, version, note=note, reason=reason, office=suggest)


def _with_a_note(action: str, summary: str) -> Callable[..., None]:
    """The command of an action that takes a note only."""

    def command(
        case_id: CaseId,
        note: Note = None,
        as_user: As = None,
        now: Now = None,
        version: Version = None,
    ) -> None:
        _act(case_id, action, as_user, now, version, note=note)

    command.__doc__ = summary
    return command


for _action, _summary in (
    ("verify", "Confirm on a revisit that a resolved case is solved."),
    ("reopen", "Reopen a case whose problem came back: it goes back to its office."),
    ("close", "Close a case unsolved (the note says why)."),
):
    cases_app.command(_action)(_with_a_note(_action, _summary))


@cases_app.command("route")
def route(
    case_id: CaseId,
    office: Annotated[str, typer.Option(help="the office to hand it to")],
    note: Note = None,
    as_user: As = None,
    now: Now = None,
    version: Version = None,
) -> None:
    """Hand a case on to another office (the routing corrected)."""
    _act(case_id, "route", as_user, now, version, note=note, office=office)


@cases_app.command("recategorise")
def recategorise(
    case_id: CaseId,
    category: Annotated[str, typer.Option(help="the problem's right category")],
    note: Note = None,
    as_user: As = None,
    now: Now = None,
    version: Version = None,
) -> None:
    """Correct the category of a case's problem; an open case goes to the new category's office."""
    _act(case_id, "recategorise", as_user, now, version, note=note, category=category)


@cases_app.command("simulate")
def simulate_year(
    start: Annotated[dt.datetime, typer.Option(help="the day the simulation starts")],
    days: Annotated[int, typer.Option(min=1, max=3_650, help="how long")] = 365,
    seed: Annotated[int, typer.Option(help="the random seed")] = 7,
    area: Annotated[str, typer.Option(help="only the cases of this area")] = "",
) -> None:
    """SYNTHETIC: a year of offices' answers to the referred cases, for demonstrations."""
    from layers.cases.simulate import simulate

    settings = Settings()
    at = start if start.tzinfo else start.replace(tzinfo=dt.timezone(dt.timedelta(hours=7)))
    with errors(), progress(counted=True) as bar:
        task = bar.add_task("simulating the offices' answers", total=None)
        done = simulate(
            engine(settings),
            start=at,
            days=days,
            seed=seed,
            area=area,
            progress=lambda n, of: bar.update(task, completed=n, total=of),
        )
    out.print(
        "SYNTHETIC answers: " + ", ".join(f"{action} {n:,}" for action, n in sorted(done.items()))
    )


@cases_app.command("escalate")
def escalate_now(now: Now = None) -> None:
    """Run the escalation once now (the worker runs it every hour)."""
    settings, at = _settings(now)
    with errors():
        steps = escalate(engine(settings), at)
    out.print(f"escalation at {at:%Y-%m-%d %H:%M %Z}: {steps:,} steps up the ladder")


@cases_app.command("deliver")
def deliver_now() -> None:
    """Send the outbox's due messages once now (the worker does it every minute)."""
    from api.webhooks import Poster

    settings = Settings()
    with errors(), Poster(settings.webhook_timeout_s) as poster:
        sent = delivery.deliver(engine(settings), settings, poster.send, limit=10_000)
    out.print(f"delivered {sent.delivered:,}; failed {sent.failed:,}; dead letters {sent.dead:,}")


@cases_app.command("dead-letters")
def dead_letters(
    replay: Annotated[bool, typer.Option(help="queue them all to be sent again")] = False,
) -> None:
    """The messages that could not be delivered; --replay sends them again."""
    with errors(), engine(Settings()).begin() as conn:
        found = delivery.dead_letters(conn)
        queued = delivery.replay(conn) if replay else 0
    table = Table("message", "case", "office", "attempts", "last error", title="dead letters")
    for row in found:
        table.add_row(
            str(row["id"]),
            str(row["case_id"]),
            escape(row["office"]),
            str(row["attempts"]),
            escape(row["last_error"] or ""),
        )
    out.print(table)
    if replay:
        out.print(f"{queued:,} queued to be sent again")


@cases_app.command("kpis")
def kpis(
    by: Annotated[str, typer.Option(help="office | agency | area")] = "office",
    level: Annotated[str, typer.Option(help="area level: province | district | subdistrict")] = (
        "province"
    ),
    as_user: As = None,
    now: Now = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False,
) -> None:
    """Figures of the cases: received, acknowledged on time, days taken, overdue, rejected,
    solved by the agency and by the household."""
    settings, at = _settings(now)
    with errors(), engine(settings).connect() as conn:
        actor = _actor(conn, as_user)
        found = queries.kpis(conn, actor.scope, by=by, level=level, today=today(at))
    if as_json:
        out.print_json(json.dumps(found, default=str))
        return
    table = Table(
        by,
        "received",
        "ack on time %",
        "days to ack",
        "days to resolve",
        "overdue",
        "rejected",
        "re-routed",
        "solved: agency",
        "solved: household",
        title="case figures",
    )
    for row in found:
        table.add_row(
            escape(str(row["key"])),
            f"{row['received']:,}",
            _num(row["acknowledged_on_time_pct"]),
            _num(row["median_days_to_acknowledge"]),
            _num(row["median_days_to_resolve"]),
            f"{row['overdue']:,}",
            f"{row['rejected']:,}",
            f"{row['rerouted']:,}",
            f"{row['solved_by_agency']:,}",
            f"{row['solved_by_household']:,}",
        )
    out.print(table)


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


@routes_app.command("check")
def routes_check() -> None:
    """Prove that every category × subdistrict resolves to exactly one office (exit 1 if not)."""
    with errors(), engine(Settings()).connect() as conn:
        found = coverage(conn)
    for category, subdistrict in found.gaps[:50]:
        console.print(f"gap: {category} in {subdistrict} has no office")
    for category, subdistrict, offices in found.conflicts[:50]:
        console.print(f"conflict: {category} in {subdistrict} goes to {', '.join(offices)}")
    if not found.complete:
        out.print(f"{len(found.gaps):,} gaps and {len(found.conflicts):,} conflicts")
        raise typer.Exit(1)
    out.print("every category × subdistrict goes to exactly one office")
