"""``bucketsync deploy``: zip, upload, change set, execute with its events shown, notification.

Everything that can be refused is checked before anything is written: the parameters
(``parameters.check``), the bucket (there, or to be made), a notification entry that would
overlap one the bucket already has, a table name another stack holds. A failure after that
leaves what a rerun repairs: the zip's key names its contents, the change set is computed
against whatever the stack is, and the notification entry is replaced by its Id.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bucketsync.aws import buckets, resources, ssm
from bucketsync.aws.clients import Clients
from bucketsync.aws.s3 import notification_configuration, put_notification_configuration
from bucketsync.aws.stacks import TEMPLATE_BODY_LIMIT, ChangeSet, Stack, StackEvent, Stacks
from bucketsync.deploy import deployer, notification, package
from bucketsync.deploy.cfn import resolve
from bucketsync.deploy.parameters import check
from bucketsync.deploy.template import Shape, render
from bucketsync.errors import ConfigurationError
from bucketsync.record_routes import Route

MAX_FUNCTION_NAME = 64
FUNCTION_SUFFIX = "-sync"  # the template names the function ${AWS::StackName}-sync
TAG = "bucketsync:"  # the stack's tags, which destroy reads back
SETTLED = ("CREATE_COMPLETE", "UPDATE_COMPLETE")


class Progress(Protocol):
    def step(self, text: str) -> None: ...
    def warn(self, text: str) -> None: ...
    def event(self, event: StackEvent) -> None: ...


def stack_name(bucket: str) -> str:
    """``bucketsync-<bucket>``, made a valid stack name short enough for its function's."""
    name = "bucketsync-" + re.sub(r"[^A-Za-z0-9-]", "-", bucket)
    room = MAX_FUNCTION_NAME - len(FUNCTION_SUFFIX)
    if len(name) <= room:
        return name
    digest = hashlib.sha256(bucket.encode()).hexdigest()[:8]
    return f"{name[: room - 9]}-{digest}"


def notification_id(stack: str) -> str:
    """The Id of the stack's entry in the bucket's notification configuration."""
    return stack if stack.startswith("bucketsync") else f"bucketsync-{stack}"


def artifacts_bucket(account: str, region: str) -> str:
    return f"bucketsync-artifacts-{account}-{region}"


@dataclass(frozen=True)
class Request:
    bucket: str
    stack: str
    shape: Shape = "catalog"
    routes: Sequence[Route] = ()
    prefix: str = ""
    suffix: str = ""
    create_bucket: bool = False
    versioning: bool = False
    parameters: Mapping[str, str] = field(default_factory=dict)
    package: Path | None = None  # a zip built before (--package); else built now
    dry_run: bool = False

    def values(self) -> dict[str, str]:
        """The stack's parameter values: the template's defaults (the routes' among them),
        what the flags say, then ``-p`` pairs."""
        parameters = render(self.shape, self.routes)["Parameters"]
        unknown = sorted(set(self.parameters) - set(parameters))
        if unknown:
            raise ConfigurationError(
                f"unknown parameter {', '.join(unknown)}; known: {', '.join(sorted(parameters))}"
            )
        values = {name: str(p["Default"]) for name, p in parameters.items() if "Default" in p}
        values |= {
            "BucketName": self.bucket,
            "CreateBucket": "true" if self.create_bucket else "false",
            "BucketVersioning": "Enabled" if self.versioning else "Suspended",
        }
        return values | dict(self.parameters)

    def deployer_policy(self) -> dict[str, Any]:
        """The IAM policy the deploying user needs for this deployment (no AWS call)."""
        template = resolve(render(self.shape, self.routes), {**self.values(), **_CODE_PLACEHOLDER})
        resources = [
            r
            for r in template["Resources"].values()
            if self.create_bucket or r.get("Condition") != "CreateBucket"
        ]
        tables = [
            str(r["Properties"]["TableName"])
            for r in resources
            if r["Type"] == "AWS::DynamoDB::Table"
        ]
        tables += [route.table for route in self.routes if route.table not in tables]
        return deployer.policy(
            stack=self.stack,
            bucket=self.bucket,
            tables=tables,
            resource_types=sorted({r["Type"] for r in resources}),
        )

    def tags(self, artifacts: str) -> dict[str, str]:
        tags = {
            "bucket": self.bucket,
            "shape": self.shape,
            "created-bucket": "true" if self.create_bucket else "false",
            "artifacts": artifacts,
            "prefix": self.prefix,
            "suffix": self.suffix,
        }
        return {TAG + k: v for k, v in tags.items() if v}  # CloudFormation refuses empty values


@dataclass
class Outcome:
    built: package.Built
    change_set: ChangeSet | None = None  # what a dry run computed
    changed: bool = False  # the stack was created or updated (not: no changes)
    stack: Stack | None = None  # None after a dry run
    notification: dict[str, Any] = field(default_factory=dict)
    holds_objects: bool = False
    values: dict[str, str] = field(default_factory=dict)


class Deployer:
    def __init__(
        self, clients: Clients, progress: Progress, *, region: str, poll: float = 2.0
    ) -> None:
        self._clients = clients
        self._s3 = clients.s3
        self._progress = progress
        self._region = region
        self._stacks = Stacks(clients.client("cloudformation"), poll=poll)

    def deploy(self, request: Request) -> Outcome:
        values, existing = self._preflight(request)
        built = self._package(request)
        account = buckets.account_id(self._clients.client("sts"))
        artifacts = artifacts_bucket(account, self._region)
        code_key = f"{request.stack}/{built.sha256[:16]}.zip"
        if not request.dry_run:
            buckets.make_private(self._s3, artifacts, self._region)
            if buckets.upload(self._s3, artifacts, code_key, built.path):
                self._progress.step(f"uploaded s3://{artifacts}/{code_key}")
        values |= {"CodeBucket": artifacts, "CodeKey": code_key}
        template = resolve(render(request.shape, request.routes), values)
        body = json.dumps(template, separators=(",", ":"), sort_keys=True)
        source = self._template_source(artifacts, request.stack, body)
        tags = request.tags(artifacts)
        outcome = Outcome(built=built, values=values)
        failed_before = existing is not None and existing.status == "ROLLBACK_COMPLETE"
        kind = "CREATE" if existing is None or existing.status == "REVIEW_IN_PROGRESS" else "UPDATE"
        if request.dry_run:
            if failed_before:
                self._progress.warn(
                    f"stack {request.stack} failed to create: deploy deletes it and creates it "
                    "anew, with every resource of the template"
                )
                return outcome
            # The change set is computed and thrown away: CloudFormation's own diff.
            outcome.change_set = self._stacks.change_set(request.stack, kind, source, tags)
            self._stacks.discard(outcome.change_set, request.stack)
            return outcome
        if failed_before:
            # A stack whose creation failed can only be deleted; its resources are gone.
            self._progress.step(f"deleting stack {request.stack}, whose creation failed")
            self._stacks.delete(request.stack, self._progress.event)
            kind = "CREATE"
        outcome.stack = self._apply(request, kind, source, tags)
        outcome.changed = outcome.stack is not None
        outcome.stack = self._stacks.describe(request.stack)
        if outcome.stack is None:
            raise ConfigurationError(f"stack {request.stack} is not there after its deploy")
        outcome.notification = self._notify(request, outcome.stack)
        outcome.holds_objects = buckets.holds_objects(self._s3, request.bucket, request.prefix)
        return outcome

    def _preflight(self, request: Request) -> tuple[dict[str, str], Stack | None]:
        """Every check that can refuse the deploy, made before anything is written."""
        values = request.values()
        problems = check(values)
        if problems:
            raise ConfigurationError("; ".join(problems))
        existing = self._stacks.describe(request.stack)
        if existing is not None and existing.busy:
            raise ConfigurationError(
                f"stack {request.stack} is {existing.status}: wait for it to settle, then rerun"
            )
        there = self._check_bucket(request, existing)
        current = notification_configuration(self._s3, request.bucket) if there else {}
        entry = notification.Entry(
            notification_id(request.stack), "arn:aws:sqs:::pending", request.prefix, request.suffix
        )
        notification.merged(current, entry)  # refuses an overlap before anything is made
        self._warn_error_prefixes(request)
        if request.shape == "mirror":
            self._check_secret(values["SecretParameterName"])
        if existing is None or existing.status in ("REVIEW_IN_PROGRESS", "ROLLBACK_COMPLETE"):
            self._check_tables_free(request, values)
        return values, existing

    def _apply(
        self, request: Request, kind: str, source: Mapping[str, str], tags: Mapping[str, str]
    ) -> Stack | None:
        """Create or update the stack; None when an update had nothing to change."""
        self._progress.step(f"{'creating' if kind == 'CREATE' else 'updating'} {request.stack}")
        if kind == "CREATE":
            settled = self._stacks.create(request.stack, source, tags, self._progress.event)
        else:
            updated = self._stacks.update(request.stack, source, tags, self._progress.event)
            if updated is None:
                self._progress.step(f"stack {request.stack}: no changes")
                return None
            settled = updated
        if settled.status not in SETTLED:
            raise ConfigurationError(
                f"stack {request.stack} ended {settled.status}: {self._stacks.failure(settled.id)}"
            )
        return settled

    def _check_bucket(self, request: Request, existing: Stack | None) -> bool:
        """Whether the bucket is there; refused when that contradicts the request."""
        there = buckets.exists(self._s3, request.bucket)
        made_by_stack = existing is not None and existing.tags.get(TAG + "created-bucket") == (
            "true"
        )
        if not request.create_bucket and not there:
            raise ConfigurationError(
                f"bucket {request.bucket} does not exist (or is not yours): pass "
                "--create-bucket to have the stack make it"
            )
        if request.create_bucket and there and not made_by_stack:
            raise ConfigurationError(
                f"bucket {request.bucket} already exists: deploy onto it without "
                "--create-bucket (the stack makes only a bucket that is not there)"
            )
        if existing is not None and made_by_stack != request.create_bucket:
            raise ConfigurationError(
                f"stack {request.stack} was deployed "
                f"{'with' if made_by_stack else 'without'} --create-bucket; deploy it the same "
                "way (a bucket cannot move into or out of a stack)"
            )
        return there

    def _warn_error_prefixes(self, request: Request) -> None:
        for route in request.routes:
            errors = route.errors_prefix
            if errors and errors.startswith(request.prefix) and not request.suffix:
                self._progress.warn(
                    f"error reports under {errors!r} fall inside the notification's filter "
                    f"(prefix {request.prefix!r}): each one is an event the function reads and "
                    "skips; a --prefix outside it saves those invocations"
                )

    def _check_secret(self, name: str) -> None:
        kind = ssm.parameter_type(self._clients.client("ssm"), name.lstrip("/"))
        if kind is None:
            raise ConfigurationError(
                f"no SSM parameter {name}: store the HMAC secret first (aws ssm put-parameter "
                f"--type SecureString --name {name} --value ...)"
            )
        if kind != "SecureString":
            raise ConfigurationError(
                f"SSM parameter {name} is a {kind}, stored in plain text: the forwarder's "
                "secret must be a SecureString"
            )

    def _check_tables_free(self, request: Request, values: Mapping[str, str]) -> None:
        template = resolve(render(request.shape, request.routes), {**values, **_CODE_PLACEHOLDER})
        dynamodb = self._clients.dynamodb
        for resource in template["Resources"].values():
            if resource["Type"] != "AWS::DynamoDB::Table":
                continue
            table = resource["Properties"]["TableName"]
            if isinstance(table, str) and resources.table_exists(dynamodb, table):
                raise ConfigurationError(
                    f"table {table} already exists (another stack's, or made by hand): name "
                    "the stack's table with -p TableName=<name>, or remove the old one"
                )

    def _package(self, request: Request) -> package.Built:
        if request.package is not None:
            built = package.describe(request.package)
        else:
            self._progress.step("building the function's zip (Linux arm64 wheels)")
            target = Path(tempfile.mkdtemp(prefix="bucketsync-deploy-")) / "function.zip"
            built = package.build(target)
        self._progress.step(
            f"function zip: {built.size / 1_048_576:.1f} MB, {built.files} files, "
            f"sha256 {built.sha256[:16]}"
        )
        return built

    def _template_source(self, artifacts: str, stack: str, body: str) -> dict[str, str]:
        if len(body.encode()) <= TEMPLATE_BODY_LIMIT:
            return {"body": body}
        digest = hashlib.sha256(body.encode()).hexdigest()[:16]
        key = f"{stack}/template-{digest}.json"
        buckets.make_private(self._s3, artifacts, self._region)
        buckets.put_text(self._s3, artifacts, key, body)
        return {"url": f"https://{artifacts}.s3.{self._region}.amazonaws.com/{key}"}

    def _notify(self, request: Request, stack: Stack) -> dict[str, Any]:
        entry = notification.Entry(
            notification_id(request.stack),
            stack.outputs["QueueArn"],
            request.prefix,
            request.suffix,
        )
        current = notification_configuration(self._s3, request.bucket)
        wanted = notification.merged(current, entry)
        if _same(current, wanted):
            self._progress.step(f"notification {entry.id} on s3://{request.bucket}: unchanged")
        else:
            put_notification_configuration(self._s3, request.bucket, wanted)
            others = sum(len(wanted.get(kind, [])) for kind in notification.KINDS) - 1
            self._progress.step(
                f"notification {entry.id} on s3://{request.bucket} → {stack.outputs['QueueArn']}"
                f" (kept {others} other{'s' if others != 1 else ''})"
            )
        return wanted


_CODE_PLACEHOLDER = {"CodeBucket": "placeholder", "CodeKey": "placeholder"}


def _same(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    def canonical(config: Mapping[str, Any]) -> str:
        kept = {k: v for k, v in config.items() if k in notification.KINDS and v}
        return json.dumps(kept, sort_keys=True)

    return canonical(current) == canonical(wanted)
