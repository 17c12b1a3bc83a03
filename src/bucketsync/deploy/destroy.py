"""``bucketsync destroy``: the notification entry, the stack, its zip; then proof nothing is left.

Order matters: the notification entry goes first, so S3 stops sending to a queue about to be
deleted (S3 would otherwise keep a configuration pointing nowhere). Only bucketsync's own entry
goes; the bucket's other notifications are put back exactly as they were. A bucket the stack
made is kept by its ``RetainExceptOnCreate`` policy (it holds the user's objects); ``--yes``
empties it, every version and delete marker, and removes it.

Afterwards each resource the stack held is asked for by its own service: CloudFormation's
DELETE_COMPLETE is not proof that nothing remains.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bucketsync.aws import buckets, resources
from bucketsync.aws.clients import Clients
from bucketsync.aws.s3 import notification_configuration, put_notification_configuration
from bucketsync.aws.stacks import Resource, Stacks
from bucketsync.deploy import notification
from bucketsync.deploy.stack import TAG, Progress, notification_id


@dataclass
class Destroyed:
    stack_found: bool
    notification_removed: bool = False
    bucket_removed: bool = False
    bucket_kept: str | None = None  # a stack-made bucket left in place (no --yes)
    objects_deleted: int = 0
    artifacts_deleted: int = 0
    remaining: list[Resource] = field(default_factory=list)  # what outlived the stack


class Destroyer:
    def __init__(self, clients: Clients, progress: Progress, *, poll: float = 2.0) -> None:
        self._clients = clients
        self._s3 = clients.s3
        self._progress = progress
        self._stacks = Stacks(clients.client("cloudformation"), poll=poll)

    def destroy(
        self, stack_name: str, *, bucket: str | None = None, yes: bool = False
    ) -> Destroyed:
        stack = self._stacks.describe(stack_name)
        if stack is None:
            out = Destroyed(stack_found=False)
            if bucket:  # an entry left behind by an interrupted destroy still goes
                out.notification_removed = self._remove_entry(bucket, stack_name)
            self._progress.step(f"no stack {stack_name}")
            return out
        out = Destroyed(stack_found=True)
        bucket = stack.tags.get(TAG + "bucket") or stack.outputs.get("BucketName") or bucket
        made_bucket = stack.tags.get(TAG + "created-bucket") == "true"
        artifacts = stack.tags.get(TAG + "artifacts")
        held = self._stacks.resources(stack.id)
        if bucket:
            out.notification_removed = self._remove_entry(bucket, stack_name)

        self._progress.step(f"deleting stack {stack_name} ({len(held)} resources)")
        self._stacks.delete(stack.id, self._progress.event)

        if made_bucket and bucket and buckets.exists(self._s3, bucket):
            if yes:
                out.objects_deleted = buckets.delete_prefix(self._s3, bucket, "")
                buckets.remove(self._s3, bucket)
                out.bucket_removed = True
                self._progress.step(
                    f"emptied ({out.objects_deleted} versions) and removed bucket {bucket}"
                )
            else:
                out.bucket_kept = bucket
                self._progress.warn(
                    f"kept bucket {bucket}, which the stack made: it holds your objects "
                    "(destroy --yes empties and removes it)"
                )
        if artifacts and buckets.exists(self._s3, artifacts):
            out.artifacts_deleted = buckets.delete_prefix(self._s3, artifacts, f"{stack_name}/")
            if not buckets.holds_objects(self._s3, artifacts):
                buckets.remove(self._s3, artifacts)  # shared by stacks: only when the last goes
            self._progress.step(f"removed {out.artifacts_deleted} artifacts of {stack_name}")

        out.remaining = [
            r
            for r in held
            if r.physical_id
            and not (r.resource_type == "AWS::S3::Bucket" and r.physical_id == out.bucket_kept)
            and resources.present(self._clients.client, r.resource_type, r.physical_id)
        ]
        return out

    def _remove_entry(self, bucket: str, stack_name: str) -> bool:
        if not buckets.exists(self._s3, bucket):
            return False
        entry_id = notification_id(stack_name)
        current = notification_configuration(self._s3, bucket)
        if not notification.has(current, entry_id):
            return False
        put_notification_configuration(self._s3, bucket, notification.without(current, entry_id))
        self._progress.step(f"removed notification {entry_id} from s3://{bucket}")
        return True
