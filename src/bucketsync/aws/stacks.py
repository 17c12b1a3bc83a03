"""CloudFormation: change sets, a stack's state, its events as they happen; errors translated.

Every create and update goes through a change set, so ``--dry-run`` shows exactly what an
execution would do, and an update that changes nothing is told apart from a failure.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from bucketsync.aws.errors import error_code, translate
from bucketsync.errors import ConfigurationError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

TEMPLATE_BODY_LIMIT = 51_200  # bytes CreateChangeSet takes inline; larger goes by TemplateURL
_NO_CHANGES = ("didn't contain changes", "No updates are to be performed")


@dataclass(frozen=True)
class Change:
    action: str  # Add, Modify, Remove
    logical_id: str
    resource_type: str
    replacement: str  # True, False, Conditional ('' for Add and Remove)


@dataclass(frozen=True)
class ChangeSet:
    id: str
    kind: str  # CREATE or UPDATE
    changes: tuple[Change, ...]
    empty: bool  # the template and parameters equal the stack's: nothing to execute


@dataclass(frozen=True)
class StackEvent:
    id: str
    timestamp: str
    logical_id: str
    resource_type: str
    status: str
    reason: str


@dataclass(frozen=True)
class Resource:
    logical_id: str
    resource_type: str
    physical_id: str


@dataclass
class Stack:
    name: str
    id: str
    status: str
    outputs: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def busy(self) -> bool:
        return self.status.endswith("_IN_PROGRESS") and self.status != "REVIEW_IN_PROGRESS"


class Stacks:
    """One stack's CloudFormation calls. ``poll`` is seconds between status reads."""

    def __init__(self, client: CloudFormationClient, *, poll: float = 2.0) -> None:
        self._cfn = client
        self._poll = poll

    def describe(self, name: str) -> Stack | None:
        """The stack, or None when there is none (or only a deleted one)."""
        try:
            answer = self._cfn.describe_stacks(StackName=name)
        except ClientError as exc:
            if error_code(exc) == "ValidationError" and "does not exist" in str(exc):
                return None
            raise translate(exc, f"DescribeStacks {name}") from exc
        except BotoCoreError as exc:
            raise translate(exc, f"DescribeStacks {name}") from exc
        stacks = answer.get("Stacks", [])
        if not stacks or stacks[0].get("StackStatus") == "DELETE_COMPLETE":
            return None
        found = stacks[0]
        return Stack(
            name=found["StackName"],
            id=found.get("StackId", ""),
            status=found["StackStatus"],
            outputs={
                o["OutputKey"]: o.get("OutputValue", "")
                for o in found.get("Outputs", [])
                if "OutputKey" in o
            },
            tags={t["Key"]: t["Value"] for t in found.get("Tags", [])},
        )

    def change_set(
        self,
        name: str,
        kind: str,
        source: Mapping[str, str],
        tags: Mapping[str, str],
    ) -> ChangeSet:
        """Create a change set of ``kind`` (CREATE or UPDATE) and wait until it is computed."""
        change_set_name = f"bucketsync-{time.strftime('%Y%m%d%H%M%S')}-{time.time_ns() % 10**6}"
        try:
            created = self._cfn.create_change_set(
                StackName=name,
                ChangeSetName=change_set_name,
                ChangeSetType=kind,  # type: ignore[arg-type]
                Capabilities=["CAPABILITY_IAM"],
                Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
                Description="bucketsync deploy --dry-run",
                **_template(source),
            )
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"CreateChangeSet {name}") from exc
        change_set_id = created["Id"]
        while True:
            described = self._describe_change_set(change_set_id)
            status = described.get("Status", "")
            if status not in ("CREATE_PENDING", "CREATE_IN_PROGRESS"):
                break
            time.sleep(self._poll)
        changes = tuple(self._changes(change_set_id, described))
        reason = str(described.get("StatusReason", ""))
        if status == "FAILED":
            if any(text in reason for text in _NO_CHANGES):
                return ChangeSet(change_set_id, kind, (), empty=True)
            raise ConfigurationError(f"CloudFormation refused the change set for {name}: {reason}")
        return ChangeSet(change_set_id, kind, changes, empty=False)

    def _describe_change_set(self, change_set_id: str, token: str | None = None) -> Any:
        try:
            if token:
                return self._cfn.describe_change_set(ChangeSetName=change_set_id, NextToken=token)
            return self._cfn.describe_change_set(ChangeSetName=change_set_id)
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"DescribeChangeSet {change_set_id}") from exc

    def _changes(self, change_set_id: str, first: Any) -> Iterator[Change]:
        page = first
        while True:
            for entry in page.get("Changes", []):
                detail = entry.get("ResourceChange", {})
                yield Change(
                    action=str(detail.get("Action", "")),
                    logical_id=str(detail.get("LogicalResourceId", "")),
                    resource_type=str(detail.get("ResourceType", "")),
                    replacement=str(detail.get("Replacement", "")),
                )
            token = page.get("NextToken")
            if not token:
                return
            page = self._describe_change_set(change_set_id, token)

    def discard(self, change_set: ChangeSet, name: str) -> None:
        """Delete an unexecuted change set (and the empty stack a CREATE one left behind)."""
        try:
            self._cfn.delete_change_set(ChangeSetName=change_set.id)
            if change_set.kind == "CREATE":
                self._cfn.delete_stack(StackName=name)
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"DeleteChangeSet {name}") from exc

    def create(
        self,
        name: str,
        source: Mapping[str, str],
        tags: Mapping[str, str],
        on_event: Callable[[StackEvent], None],
    ) -> Stack:
        """CreateStack, reporting each stack event as it happens; the settled stack."""
        try:
            created = self._cfn.create_stack(
                StackName=name,
                Capabilities=["CAPABILITY_IAM"],
                OnFailure="ROLLBACK",  # kept for its events; the next deploy deletes it
                Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
                **_template(source),
            )
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"CreateStack {name}") from exc
        return self.wait(created["StackId"], set(), on_event)

    def update(
        self,
        name: str,
        source: Mapping[str, str],
        tags: Mapping[str, str],
        on_event: Callable[[StackEvent], None],
    ) -> Stack | None:
        """UpdateStack and wait; None when the stack already is what ``source`` describes."""
        seen = {event.id for event in self.events(name)}
        try:
            self._cfn.update_stack(
                StackName=name,
                Capabilities=["CAPABILITY_IAM"],
                Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
                **_template(source),
            )
        except ClientError as exc:
            if any(text in str(exc) for text in _NO_CHANGES):
                return None
            raise translate(exc, f"UpdateStack {name}") from exc
        except BotoCoreError as exc:
            raise translate(exc, f"UpdateStack {name}") from exc
        return self.wait(name, seen, on_event)

    def delete(self, name: str, on_event: Callable[[StackEvent], None]) -> None:
        stack = self.describe(name)
        if stack is None:
            return
        seen = {event.id for event in self.events(stack.id)}
        try:
            self._cfn.delete_stack(StackName=stack.id)
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"DeleteStack {name}") from exc
        settled = self.wait(stack.id, seen, on_event)
        if settled.status != "DELETE_COMPLETE":
            raise ConfigurationError(
                f"stack {name} ended {settled.status}: {self.failure(stack.id)}"
            )

    def wait(self, name: str, seen: set[str], on_event: Callable[[StackEvent], None]) -> Stack:
        """Poll until the stack leaves every *_IN_PROGRESS status, reporting new events."""
        while True:
            for event in reversed(self.events(name)):
                if event.id not in seen:
                    seen.add(event.id)
                    on_event(event)
            stack = self._status(name)
            if not stack.status.endswith("_IN_PROGRESS"):
                return stack
            time.sleep(self._poll)

    def _status(self, name: str) -> Stack:
        try:
            answer = self._cfn.describe_stacks(StackName=name)
        except (ClientError, BotoCoreError) as exc:
            if isinstance(exc, ClientError) and "does not exist" in str(exc):
                return Stack(name=name, id=name, status="DELETE_COMPLETE")
            raise translate(exc, f"DescribeStacks {name}") from exc
        found = answer["Stacks"][0]
        return Stack(name=found["StackName"], id=found["StackId"], status=found["StackStatus"])

    def events(self, name: str) -> list[StackEvent]:
        """The stack's events, newest first (as CloudFormation lists them)."""
        out: list[StackEvent] = []
        try:
            for page in self._cfn.get_paginator("describe_stack_events").paginate(StackName=name):
                for event in page.get("StackEvents", []):
                    out.append(
                        StackEvent(
                            id=event["EventId"],
                            timestamp=str(event.get("Timestamp", "")),
                            logical_id=str(event.get("LogicalResourceId", "")),
                            resource_type=str(event.get("ResourceType", "")),
                            status=str(event.get("ResourceStatus", "")),
                            reason=str(event.get("ResourceStatusReason", "") or ""),
                        )
                    )
        except ClientError as exc:
            if "does not exist" in str(exc):
                return []
            raise translate(exc, f"DescribeStackEvents {name}") from exc
        except BotoCoreError as exc:
            raise translate(exc, f"DescribeStackEvents {name}") from exc
        return out

    def failure(self, name: str) -> str:
        """The first failed resource's reason among the latest events: what to tell the user."""
        reasons = [
            f"{event.logical_id} ({event.resource_type}): {event.reason}"
            for event in reversed(self.events(name))
            if event.status.endswith("_FAILED") and event.reason
        ]
        return reasons[0] if reasons else "no reason given"

    def resources(self, name: str) -> list[Resource]:
        """The stack's resources: logical id, type, and the physical id each service knows."""
        out: list[Resource] = []
        try:
            pages = self._cfn.get_paginator("list_stack_resources").paginate(StackName=name)
            for page in pages:
                for summary in page.get("StackResourceSummaries", []):
                    out.append(
                        Resource(
                            logical_id=summary["LogicalResourceId"],
                            resource_type=summary["ResourceType"],
                            physical_id=str(summary.get("PhysicalResourceId", "")),
                        )
                    )
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"ListStackResources {name}") from exc
        return out

    def template(self, name: str) -> dict[str, Any]:
        """The stack's current template, parsed."""
        try:
            answer = self._cfn.get_template(StackName=name, TemplateStage="Original")
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"GetTemplate {name}") from exc
        body = answer.get("TemplateBody", {})
        if isinstance(body, str):
            parsed: dict[str, Any] = json.loads(body)
            return parsed
        return dict(body)


def _template(source: Mapping[str, str]) -> dict[str, Any]:
    """``{"url": ...}`` or ``{"body": ...}`` as CloudFormation's TemplateURL or TemplateBody."""
    if "url" in source:
        return {"TemplateURL": source["url"]}
    return {"TemplateBody": source["body"]}
