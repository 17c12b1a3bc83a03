"""Top-level Typer app and global options: every flag overrides one ``Settings`` field."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bucketsync.cli import catalog, deploy, load, local, operate, reconcile, serve, worker
from bucketsync.errors import ConfigurationError
from bucketsync.logs import configure_logging
from bucketsync.settings import Settings

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


@app.callback()
def options(
    ctx: typer.Context,
    endpoint_url: Annotated[
        str | None, typer.Option(help="AWS endpoint (the emulator). Default: real AWS.")
    ] = None,
    region: Annotated[str | None, typer.Option(help="AWS region.")] = None,
    table: Annotated[str | None, typer.Option(help="Catalog table.")] = None,
    log_level: Annotated[str | None, typer.Option(help="DEBUG, INFO, WARNING...")] = None,
) -> None:
    """Settings come from BUCKETSYNC_* environment variables; these flags override them."""
    try:
        settings = Settings().override(
            endpoint_url=endpoint_url, region=region, table=table, log_level=log_level
        )
    except ValidationError as exc:
        raise ConfigurationError(_explain(exc)) from None
    configure_logging(settings)
    ctx.obj = settings


def _explain(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"])
        problems.append(f"{name} (BUCKETSYNC_{name.upper()}): {error['msg']}")
    return "; ".join(problems)


@app.command("config")
def show_config(ctx: typer.Context) -> None:
    """Print the effective settings (secrets redacted) and what each one means."""
    settings: Settings = ctx.obj
    console = Console()
    values = settings.redacted()
    rows = []
    for name, field in Settings.model_fields.items():
        shown = "**********" if "secret" in name or "access_key" in name else values[name]
        shown = "" if shown is None else shown
        rows.append((name, f"BUCKETSYNC_{name.upper()}", str(shown), field.description or ""))
    if not console.is_terminal:
        # Piped: one whole line per setting, so grep and cut see every name unabridged.
        for name, variable, value, meaning in rows:
            typer.echo(f"{variable}={value}\t# {name}: {meaning}")
        return
    table = Table("setting", "environment variable", "value", "meaning")
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    console.print(table)
