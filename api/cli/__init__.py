"""The ``bamrung`` command line."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.logging import RichHandler

from api.cli.analysis import density, hotspots, target
from api.cli.boundaries import boundaries_app
from api.cli.common import console, errors, out
from api.cli.db import db_app
from api.cli.layers import layers_app, synth_water
from api.cli.maps import gallery, map_command
from api.cli.overlay import overlay_app
from api.cli.stats import stats
from api.cli.survey import import_files, synth
from api.cli.users import audit_app, users_app
from layers.db import database_url
from layers.settings import Settings

app = typer.Typer(
    help="Bamrung: find, map and resolve household hardship in Thailand.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(boundaries_app, name="boundaries")
app.command("import")(import_files)
app.command("synth")(synth)
app.command("stats")(stats)
app.command("density")(density)
app.command("hotspots")(hotspots)
app.command("target")(target)
app.add_typer(layers_app, name="layers")
app.add_typer(overlay_app, name="overlay")
app.command("synth-water")(synth_water)
app.command("map")(map_command)
app.command("gallery")(gallery)
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")


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


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8000,
) -> None:
    """Serve the API (OpenAPI docs at /docs); starts the private cluster if needed."""
    import uvicorn

    from api.app import create_app

    settings = Settings()
    with errors():
        database_url(settings)
    out.print(f"Bamrung API on http://{host}:{port}/ (docs: http://{host}:{port}/docs)")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


def main() -> None:
    app()
