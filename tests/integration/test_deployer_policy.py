"""The deploying user's policy (``deploy --print-policy``) covers every call the commands make.

Deploy, status, logs, a redrive and destroy run against the emulator with every
request counted; each operation must be one ``deployer.CALLS`` knows, and its IAM action must
be granted by the printed policy on a resource of this deployment. CloudFormation's own calls
for the stack's resources cannot be seen from here: the policy is held instead to the actions
listed for each resource type of the template.
"""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any

from tests.integration.deploying import PREFIX, Deploying

from bucketsync.aws.clients import Clients
from bucketsync.aws.request_counter import RequestCounter
from bucketsync.deploy import deployer
from bucketsync.deploy.destroy import Destroyer
from bucketsync.deploy.stack import Deployer, Request
from bucketsync.operate import logs as tailing
from bucketsync.operate import redrive
from bucketsync.operate.status import gather
from bucketsync.record_routes import parse_routes


class Quiet:
    def step(self, text: str) -> None: ...
    def warn(self, text: str) -> None: ...
    def event(self, event: Any) -> None: ...


def allows(policy: dict[str, Any], action: str) -> bool:
    return any(
        fnmatch.fnmatchcase(action, pattern)
        for statement in policy["Statement"]
        for pattern in statement["Action"]
    )


def test_every_call_the_commands_make_is_in_the_deployer_s_policy(deploying: Deploying) -> None:
    counter = RequestCounter()
    clients = Clients(deploying.settings, counter)
    routes = parse_routes(deploying.routes_file.read_text())
    request = Request(
        bucket=deploying.bucket,
        stack=deploying.stack,
        routes=routes,
        prefix=PREFIX,
        parameters={"TableName": deploying.names.table},
        package=deploying.zip_path,
    )
    # deploy (a dry run, then for real, then again), status, logs, a redrive, destroy
    Deployer(clients, Quiet(), region="us-east-1", poll=0).deploy(
        Request(**{**request.__dict__, "dry_run": True})
    )
    outcome = Deployer(clients, Quiet(), region="us-east-1", poll=0).deploy(request)
    assert outcome.stack is not None
    outputs = outcome.stack.outputs
    gather(clients, deploying.stack)
    list(tailing.tail(clients.client("logs"), outputs["LogGroupName"], start_ms=0))
    # (a dead message, sent by the test's own uncounted client)
    deploying.clients.sqs.send_message(QueueUrl=outputs["DeadLetterQueueUrl"], MessageBody="{}")
    redrive.redrive(
        clients.sqs,
        redrive.Queues(
            outputs["DeadLetterQueueUrl"],
            outputs["DeadLetterQueueArn"],
            outputs["QueueUrl"],
            outputs["QueueArn"],
        ),
        move_task_sqs=clients.client("sqs", max_attempts=1),
    )
    Destroyer(clients, Quiet(), poll=0).destroy(deploying.stack, yes=True)
    made = counter.snapshot()
    # THEN every operation is one the policy module knows
    unknown = sorted(set(made) - set(deployer.CALLS))
    assert not unknown, f"calls missing from deployer.CALLS: {unknown}"
    # AND the printed policy grants each one's action
    policy = request.deployer_policy()
    for operation in made:
        action = deployer.CALLS[operation]
        assert not action or allows(policy, action), (operation, action)


def test_the_policy_grants_what_cloudformation_does_for_each_resource_type(
    deploying: Deploying,
) -> None:
    request = Request(
        bucket=deploying.bucket,
        stack=deploying.stack,
        routes=parse_routes(deploying.routes_file.read_text()),
        create_bucket=True,
        parameters={"TableName": deploying.names.table},
    )
    policy = request.deployer_policy()
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        for resource in statement["Resource"]:
            # scoped to this deployment, except what IAM cannot scope (listings, metrics)
            assert (resource == "*" and statement["Sid"] in ("Metrics", "DescribeLogGroups")) or (
                deploying.stack in resource
                or deploying.bucket in resource
                or "bucketsync-artifacts-" in resource
                or deploying.names.table in resource
                or resource.endswith("event-source-mapping:*")
            ), (statement["Sid"], resource)
    for actions in deployer.RESOURCE_ACTIONS.values():
        for action in actions:
            assert allows(policy, action), action
    # AND it is a policy IAM takes: JSON under IAM's 6,144-character managed-policy limit
    compact = re.sub(r"\s", "", json.dumps(policy))
    assert len(compact) <= 6_144, len(compact)
