"""The ``bamrung`` command line."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.logging import RichHandler

from api.cli.analysis import density, hotspots, target
from api.cli.boundaries import boundaries_app
from api.cli.cases import cases_app
from api.cli.common import console, errors, out
from api.cli.communities import communities_app
from api.cli.db import db_app
from api.cli.export import export
from api.cli.geosocial import geosocial_app, synth_water
from api.cli.imports import imports_app
from api.cli.maps import gallery, map_command
from api.cli.overlay import overlay_app
from api.cli.stats import stats
from api.cli.survey import form, import_files, synth
from api.cli.users import audit_app, users_app
from layers.store.db import database_url
from layers.store.settings import Settings

app = typer.Typer(
    help="Bamrung: find, map and resolve household hardship in Thailand.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(boundaries_app, name="boundaries")
app.command("import")(import_files)
app.add_typer(imports_app, name="imports")
app.command("synth")(synth)
app.command("form")(form)
app.command("stats")(stats)
app.command("density")(density)
app.command("hotspots")(hotspots)
app.command("target")(target)
app.add_typer(geosocial_app, name="layers")
app.add_typer(overlay_app, name="overlay")
app.command("synth-water")(synth_water)
app.command("map")(map_command)
app.command("gallery")(gallery)
app.command("export")(export)
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
app.add_typer(cases_app, name="cases")
app.add_typer(communities_app, name="communities")


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="more log output")] = False,
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False)],
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("pyogrio").setLevel(logging.WARNING)  # "Created N records" per layer


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8000,
    workers: Annotated[
        int | None,
        typer.Option(
            help="worker processes (default: BAMRUNG_WORKERS, else the number of cores)",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the API (OpenAPI docs at /docs); starts the private cluster if needed.

    Workers are processes sharing the port; each builds the app from the same environment.
    """
    import copy
    import os

    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from geo.errors import InvalidInputError
    from layers.store.keys import pii_key, signing_key

    settings = Settings()
    source = "--workers"
    if workers is None:
        source, workers = "BAMRUNG_WORKERS", settings.workers
    if workers is None:
        source, workers = "the number of cores", os.cpu_count() or 1
    with errors():
        if workers < 1:
            raise InvalidInputError(f"{source} is {workers}: serve needs at least 1 worker")
        # Once, here: the workers find the private cluster running (they never start it).
        database_url(settings)
        if workers > 1:
            # Generated keys are made before the workers start, so that all of them sign and
            # hash with the same key instead of racing to create it.
            signing_key(settings)
            pii_key(settings)
    noun = "worker" if workers == 1 else "workers"
    out.print(
        f"Bamrung API on http://{host}:{port}/ (docs: http://{host}:{port}/docs), {workers} {noun}"
    )
    if workers == 1:
        from api.app import create_app

        uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
        return
    # Each worker is a fresh interpreter (spawned) that calls create_app() with Settings() of
    # the inherited environment and working folder (.env); the app's own log records go to
    # uvicorn's handler there, at the levels set here (-v, and alembic's as in _main).
    log_config = copy.deepcopy(LOGGING_CONFIG)
    log_config["root"] = {"handlers": ["default"], "level": logging.getLogger().level}
    log_config["loggers"]["alembic"] = {"level": logging.getLogger("alembic").level}
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level="info",
        log_config=log_config,
    )


@app.command()
def worker(
    once: Annotated[
        bool, typer.Option(help="run escalation, delivery and the queued exports once, then stop")
    ] = False,
    concurrency: Annotated[int, typer.Option(min=1, help="jobs at once")] = 1,
    queue_names: Annotated[
        list[str] | None, typer.Option("--queue", help="only these queues (default: all)")
    ] = None,
) -> None:
    """Run the job queue's worker: escalation every hour, webhook delivery every minute, "is it
    solved?" asked daily, and the exports asked for (``POST /exports/jobs``)."""
    import contextlib

    from procrastinate.exceptions import AlreadyEnqueued

    from api.webhooks import Poster
    from layers.cases.jobs import QUEUE, queue
    from layers.citizens import questions
    from layers.delivery import jobs as exports

    settings = Settings()
    with errors():
        database_url(settings)
    with Poster(settings.webhook_timeout_s) as poster:
        tasks = queue(settings, poster.send)
        exports.register(tasks, settings)
        questions.register(tasks, settings)
        queues = queue_names or [QUEUE, questions.QUEUE, exports.QUEUE]
        with tasks.open() as jobs:
            if once:
                periodic = {
                    "escalate": QUEUE,
                    "deliver": QUEUE,
                    questions.TASK: questions.QUEUE,
                    questions.INDEX: questions.QUEUE,
                }
                for task, its_queue in periodic.items():
                    if its_queue in queues:
                        # Already queued (by a periodic deferral) is as good.
                        with contextlib.suppress(AlreadyEnqueued):
                            jobs.tasks[task].defer()
            out.print(
                f"worker on queues {', '.join(queues)}"
                + (" (once)" if once else ": Ctrl-C to stop")
            )
            jobs.run_worker(queues=queues, wait=not once, concurrency=concurrency)


def main() -> None:
    app()
