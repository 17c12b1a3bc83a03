"""``bucketsync deploy`` and ``bucketsync destroy``: one command each way (docs/deploy.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bucketsync.aws.clients import Clients
from bucketsync.aws.stacks import StackEvent
from bucketsync.cli import reconcile
from bucketsync.deploy import cost, package
from bucketsync.deploy.destroy import Destroyer
from bucketsync.deploy.stack import Deployer, Outcome, Request, stack_name
from bucketsync.record_routes import load_routes
from bucketsync.settings import Settings

EXIT_LEFTOVERS = 1


class Printer:
    """Deploy's progress as terminal lines: steps, warnings, and the stack's events."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def step(self, text: str) -> None:
        self.console.print(f"[bold]•[/bold] {escape(text)}")

    def warn(self, text: str) -> None:
        self.console.print(f"[yellow]! {escape(text)}[/yellow]")

    def event(self, event: StackEvent) -> None:
        colour = (
            "red" if "FAILED" in event.status else "green" if "COMPLETE" in event.status else ""
        )
        reason = f"  {event.reason}" if event.reason else ""
        line = f"  {event.status:<22} {event.resource_type:<34} {event.logical_id}{reason}"
        self.console.print(f"[{colour}]{escape(line)}[/{colour}]" if colour else escape(line))


def deploy(
    ctx: typer.Context,
    bucket: Annotated[str, typer.Argument(help="The bucket to keep in sync.")],
    *,
    stack: Annotated[
        str | None, typer.Option(help="Stack name (default: bucketsync-<bucket>).")
    ] = None,
    shape: Annotated[
        str, typer.Option(help="catalog (DynamoDB) or mirror (forward to a sync service).")
    ] = "catalog",
    prefix: Annotated[str, typer.Option(help="Only keys under this prefix notify.")] = "",
    suffix: Annotated[str, typer.Option(help="Only keys with this suffix notify.")] = "",
    create_bucket: Annotated[
        bool, typer.Option(help="Have the stack make the bucket (private, SSE, TLS only).")
    ] = False,
    versioning: Annotated[bool, typer.Option(help="Version a bucket the stack makes.")] = False,
    parameter: Annotated[
        list[str] | None,
        typer.Option("--parameter", "-p", help="A stack parameter, Name=Value (repeatable)."),
    ] = None,
    routes_file: Annotated[
        Path | None, typer.Option(help="Routing rules (JSON) for data files' rows.")
    ] = None,
    prebuilt: Annotated[
        Path | None,
        typer.Option("--package", help="A zip from bucketsync package (default: build it now)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option(help="Show the change set and the notification; change nothing.")
    ] = False,
    backfill: Annotated[
        bool | None,
        typer.Option(help="Fill the catalog from the bucket's objects (default: ask)."),
    ] = None,
    print_policy: Annotated[
        bool, typer.Option(help="Print the IAM policy the deploying user needs; deploy nothing.")
    ] = False,
) -> None:
    """Deploy bucketsync onto BUCKET: zip, stack, notification; then offer the backfill."""
    settings: Settings = ctx.obj
    console = Console(highlight=False)
    printer = Printer(console)
    if shape not in ("catalog", "mirror"):
        raise typer.BadParameter(f"--shape is catalog or mirror, not {shape!r}")
    routes = load_routes(settings.routes, str(routes_file) if routes_file else settings.routes_file)
    request = Request(
        bucket=bucket,
        stack=stack or stack_name(bucket),
        shape="catalog" if shape == "catalog" else "mirror",
        routes=tuple(routes),
        prefix=prefix,
        suffix=suffix,
        create_bucket=create_bucket,
        versioning=versioning,
        parameters=_pairs(parameter or []),
        package=prebuilt,
        dry_run=dry_run,
    )
    if print_policy:
        typer.echo(json.dumps(request.deployer_policy(), indent=2))
        return
    deployer = Deployer(Clients(settings), printer, region=settings.region, poll=_poll(settings))
    outcome = deployer.deploy(request)
    if dry_run:
        _print_change_set(console, outcome)
        _print_cost(console, outcome, request)
        return
    _print_outputs(console, outcome)
    _print_cost(console, outcome, request)
    if outcome.holds_objects:
        chosen = {"routes_file": str(routes_file)} if routes_file else {}
        _offer_backfill(ctx, console, settings, request, outcome, backfill, chosen)


def destroy(
    ctx: typer.Context,
    bucket: Annotated[str, typer.Argument(help="The bucket bucketsync was deployed onto.")],
    *,
    stack: Annotated[
        str | None, typer.Option(help="Stack name (default: bucketsync-<bucket>).")
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", help="Also empty and remove a bucket the stack made.")
    ] = False,
) -> None:
    """Remove bucketsync's notification entry, its stack and its zip; check nothing remains."""
    settings: Settings = ctx.obj
    console = Console(highlight=False)
    name = stack or stack_name(bucket)
    destroyer = Destroyer(Clients(settings), Printer(console), poll=_poll(settings))
    done = destroyer.destroy(name, bucket=bucket, yes=yes)
    if done.remaining:
        for resource in done.remaining:
            console.print(
                f"[red]still there: {escape(resource.resource_type)} "
                f"{escape(resource.physical_id)}[/red]"
            )
        raise typer.Exit(EXIT_LEFTOVERS)
    if done.stack_found:
        console.print(f"[green]{escape(name)}: destroyed; checked, nothing of it remains[/green]")


def _pairs(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise typer.BadParameter(f"expected Name=Value, got {item!r}", param_hint="-p")
        out[name.strip()] = value
    return out


def _poll(settings: Settings) -> float:
    return 0.2 if settings.endpoint_url else 3.0  # the emulator settles at once


def _print_change_set(console: Console, outcome: Outcome) -> None:
    change_set = outcome.change_set
    if change_set is None:
        return
    if change_set.empty:
        console.print("no changes")
        return
    table = Table("action", "resource", "type", "replacement", title=f"{change_set.kind}")
    for change in change_set.changes:
        table.add_row(
            escape(change.action),
            escape(change.logical_id),
            escape(change.resource_type),
            escape(change.replacement),
        )
    console.print(table)


def _print_outputs(console: Console, outcome: Outcome) -> None:
    if outcome.stack is None:
        return
    table = Table("output", "value", title=f"{outcome.stack.name}: {outcome.stack.status}")
    for key, value in sorted(outcome.stack.outputs.items()):
        table.add_row(escape(key), escape(value))
    console.print(table)


def _print_cost(console: Console, outcome: Outcome, request: Request) -> None:
    estimate = cost.estimate(outcome.values, request.shape)
    console.print("[bold]estimated cost[/bold] (us-east-1 list prices, no free tier)")
    for line in estimate.lines():
        console.print(f"  {escape(line)}")
    sentence = cost.cheaper(outcome.values, request.shape)
    if sentence:
        console.print(f"  {escape(sentence)}")


def build_package(
    output: Annotated[Path, typer.Option(help="Where to write the zip.")] = Path(
        "dist/bucketsync-function.zip"
    ),
) -> None:
    """Build the function's zip (Linux arm64 wheels) for deploy --package or Terraform."""
    built = package.build(output)
    typer.echo(
        f"{built.path}: {built.size:,} bytes ({built.size / 1_048_576:.1f} MB), "
        f"{built.files} files, sha256 {built.sha256}"
    )


def _offer_backfill(  # noqa: PLR0917 - one private call site, every argument needed
    ctx: typer.Context,
    console: Console,
    settings: Settings,
    request: Request,
    outcome: Outcome,
    wanted: bool | None,
    routes_override: dict[str, str],
) -> None:
    uri = f"s3://{request.bucket}/{request.prefix}"
    if request.shape != "catalog" or outcome.stack is None:
        console.print(
            f"{escape(uri)} already holds objects: the sync service's full sync mirrors them"
        )
        return
    table = outcome.stack.outputs.get("TableName", settings.table)
    command = f"bucketsync --table {table} reconcile {uri}"
    if wanted is None:
        wanted = sys.stdin.isatty() and typer.confirm(
            f"{uri} already holds objects the catalog has not seen. Backfill now?", default=True
        )
    if not wanted:
        console.print(f"{escape(uri)} already holds objects; to fill the catalog: {command}")
        return
    console.print(f"[bold]backfill[/bold]: {escape(command)}")
    # The same run as `bucketsync reconcile`, with the stack's table and the deploy's routes.
    ctx.obj = settings.override(table=table, **routes_override)
    reconcile.run(ctx, uri)
