"""Top-level Typer app and global options: every flag overrides one ``Settings`` field."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from pydantic import SecretStr, ValidationError
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bucketsync import __version__
from bucketsync.cli import (
    catalog,
    deploy,
    helptext,
    load,
    local,
    operate,
    reconcile,
    serve,
    worker,
)
from bucketsync.cli.exits import explain_validation
from bucketsync.errors import ConfigurationError
from bucketsync.logs import configure_logging
from bucketsync.settings import Settings

helptext.flags_take_no_value()
UNSET = "(unset)"

app = typer.Typer(
    no_args_is_help=True,
    help="Keep DynamoDB and local mirrors exactly in sync with S3 buckets, event-driven.",
    pretty_exceptions_show_locals=False,
)
app.add_typer(catalog.app, name="catalog")
app.add_typer(local.app, name="local")
app.command("worker")(worker.run)
app.command("load")(load.run)
app.command("reconcile")(reconcile.run)
app.command("serve")(serve.run)
app.command("package")(deploy.build_package)
app.command("deploy")(deploy.deploy)
app.command("destroy")(deploy.destroy)
app.command("status")(operate.status)
app.command("logs")(operate.logs)
app.add_typer(operate.dlq, name="dlq")


def _print_version(given: bool) -> None:
    if given:
        typer.echo(f"bucketsync {__version__}")
        raise typer.Exit()


@app.callback()
def options(
    ctx: typer.Context,
    *,
    endpoint_url: Annotated[
        str | None, typer.Option(help="AWS endpoint (the emulator). Default: real AWS.")
    ] = None,
    region: Annotated[str | None, typer.Option(help="AWS region.")] = None,
    table: Annotated[str | None, typer.Option(help="Catalog table.")] = None,
    log_level: Annotated[str | None, typer.Option(help="DEBUG, INFO, WARNING...")] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Print the version; exit."
        ),
    ] = False,
) -> None:
    """Settings come from BUCKETSYNC_* environment variables; these flags override them."""
    try:
        settings = Settings().override(
            endpoint_url=endpoint_url, region=region, table=table, log_level=log_level
        )
    except ValidationError as exc:
        raise ConfigurationError(explain_validation(exc)) from None
    configure_logging(settings)
    ctx.obj = settings


@app.command("config")
def show_config(ctx: typer.Context) -> None:
    """Print the effective settings (secrets redacted) and what each one means."""
    settings: Settings = ctx.obj
    console = Console()
    # Secrets are SecretStr, which redacted() shows as asterisks when set; an unset one stays
    # None, and says so: asterisks for a secret that is not there send people hunting.
    values = settings.redacted()
    rows = []
    for name, field in Settings.model_fields.items():
        value = values[name]
        shown = UNSET if value is None else _shown(value, getattr(settings, name))
        rows.append((name, f"BUCKETSYNC_{name.upper()}", shown, field.description or ""))
    if not console.is_terminal:
        # Piped: one whole line per setting, so grep and cut see every name unabridged; an
        # unset one as VARIABLE= (what unsetting it in a shell file looks like).
        for name, variable, value, meaning in rows:
            typer.echo(f"{variable}={'' if value == UNSET else value}\t# {name}: {meaning}")
        return
    table = Table("setting", "environment variable", "value", "meaning")
    for name, variable, value, meaning in rows:
        shown_value = Text(value, style="dim italic" if value == UNSET else "")
        table.add_row(Text(name), Text(variable), shown_value, Text(meaning))
    console.print(table)


def _shown(value: object, raw: object) -> str:
    if isinstance(raw, SecretStr):
        return "**********"  # never the length either
    return json.dumps(value) if isinstance(value, list | dict) else str(value)
