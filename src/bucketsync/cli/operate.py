"""``bucketsync status``, ``bucketsync logs`` and ``bucketsync dlq redrive`` (seed 000's make
targets, over the deployed stack's outputs)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bucketsync.aws.clients import Clients
from bucketsync.aws.stacks import Stacks
from bucketsync.deploy.stack import stack_name
from bucketsync.errors import ConfigurationError
from bucketsync.operate import logs as tailing
from bucketsync.operate import redrive as redriving
from bucketsync.operate.status import gather
from bucketsync.settings import Settings

dlq = typer.Typer(no_args_is_help=True, help="The deployed stack's dead-letter queue.")
EXIT_UNHEALTHY = 1
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

StackOption = Annotated[
    str | None, typer.Option("--stack", help="Stack name (default: bucketsync-<bucket>).")
]
BucketArgument = Annotated[str, typer.Argument(help="The bucket bucketsync was deployed onto.")]


def status(
    ctx: typer.Context,
    bucket: BucketArgument,
    *,
    stack: StackOption = None,
    count: Annotated[
        bool, typer.Option(help="Count the bucket's catalog items (reads each once).")
    ] = True,
) -> None:
    """The stack, the queues, the function's errors, the catalog's count; exit 1 if unwell."""
    settings: Settings = ctx.obj
    console = Console(highlight=False)
    found = gather(Clients(settings), stack or stack_name(bucket), count=count)
    table = Table("", "", title=f"{found.stack.name}: {found.stack.status}", show_header=False)
    table.add_row("bucket", escape(found.bucket))
    table.add_row(
        "notification",
        "[green]in place[/green]"
        if found.notification
        else "[red]missing: no events arrive; rerun bucketsync deploy[/red]",
    )
    table.add_row("queue", f"{found.queue.visible} waiting, {found.queue.in_flight} in flight")
    age = found.oldest_age_seconds
    table.add_row("oldest message", "no datapoint" if age is None else f"{age:.0f} s")
    dead = found.dlq.visible + found.dlq.in_flight
    table.add_row(
        "dead letters",
        f"[red]{dead}[/red] (bucketsync dlq redrive {escape(bucket)})" if dead else "0",
    )
    errors, invocations = found.errors, found.invocations
    table.add_row(
        "function, last hour",
        f"{_n(invocations)} invocations, {_n(errors)} errors",
    )
    if found.catalog is not None:
        objects, tombstones = found.catalog
        table.add_row("catalog", f"{objects:,} objects, {tombstones:,} tombstones")
    for key, value in sorted(found.stack.outputs.items()):
        table.add_row(escape(key), escape(value))
    console.print(table)
    if found.recent_errors:
        console.print("[bold]latest errors[/bold]")
        for message in found.recent_errors:
            console.print(f"  {escape(message[:300])}")
    if not found.healthy:
        raise typer.Exit(EXIT_UNHEALTHY)


def logs(
    ctx: typer.Context,
    bucket: BucketArgument,
    *,
    stack: StackOption = None,
    since: Annotated[str, typer.Option(help="How far back: 30s, 10m, 2h, 1d.")] = "10m",
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new events.")] = (
        False
    ),
    filter_pattern: Annotated[
        str, typer.Option("--filter", help="A CloudWatch Logs filter pattern, e.g. ERROR.")
    ] = "",
) -> None:
    """The function's CloudWatch logs; --follow keeps printing until Ctrl-C."""
    settings: Settings = ctx.obj
    clients = Clients(settings)
    outputs = _outputs(clients, stack or stack_name(bucket))
    start = datetime.now(UTC) - _duration(since)
    try:
        for event in tailing.tail(
            clients.client("logs"),
            outputs["LogGroupName"],
            start_ms=int(start.timestamp() * 1000),
            pattern=filter_pattern,
            follow=follow,
        ):
            typer.echo(tailing.line(event))
    except KeyboardInterrupt:
        return


@dlq.command("redrive")
def redrive(
    ctx: typer.Context,
    bucket: BucketArgument,
    *,
    stack: StackOption = None,
    dry_run: Annotated[
        bool, typer.Option(help="Show how many are dead and what about; move nothing.")
    ] = False,
    max_messages: Annotated[
        int | None, typer.Option("--max", min=1, help="Move at most this many.")
    ] = None,
) -> None:
    """Move dead messages back to the queue (send, then delete: never loses one)."""
    settings: Settings = ctx.obj
    console = Console(highlight=False)
    clients = Clients(settings)
    outputs = _outputs(clients, stack or stack_name(bucket))
    where = redriving.Queues(
        dlq_url=outputs["DeadLetterQueueUrl"],
        dlq_arn=outputs["DeadLetterQueueArn"],
        queue_url=outputs["QueueUrl"],
        queue_arn=outputs["QueueArn"],
    )
    if dry_run:
        peeked = redriving.peek(clients.sqs, where)
        console.print(f"{peeked.waiting} dead messages; the first ones are about:")
        for text in peeked.sample:
            console.print(f"  {escape(text)}")
        return
    started = time.monotonic()
    with console.status("redriving") as spinner:
        done = redriving.redrive(
            clients.sqs,
            where,
            limit=max_messages,
            on_batch=lambda moved: spinner.update(f"redriving: {moved} moved"),
            # One attempt: where the call is missing, retrying it only delays the fallback.
            move_task_sqs=clients.client("sqs", max_attempts=1),
        )
    console.print(
        f"moved {done.moved} of {done.waiting} dead messages back to the queue by "
        f"{done.method} in {time.monotonic() - started:.1f} s"
        + (f"; {done.failed} refused, still in the DLQ" if done.failed else "")
    )
    if done.failed:
        raise typer.Exit(1)


def _outputs(clients: Clients, name: str) -> dict[str, str]:
    stack = Stacks(clients.client("cloudformation")).describe(name)
    if stack is None:
        raise ConfigurationError(f"no stack {name} (bucketsync deploy makes it)")
    return stack.outputs


def _duration(text: str) -> timedelta:
    unit = text[-1:]
    if unit not in _UNITS or not text[:-1].isdigit():
        raise typer.BadParameter(f"expected a duration like 30s, 10m, 2h or 1d, got {text!r}")
    return timedelta(seconds=int(text[:-1]) * _UNITS[unit])


def _n(value: float | None) -> str:
    return "no datapoint" if value is None else f"{value:,.0f}"
