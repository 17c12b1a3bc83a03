"""bucketsync's entry in a bucket's notification configuration: merged, never clobbering."""

from __future__ import annotations

from typing import Any

import pytest

from bucketsync.deploy.notification import Entry, has, merged, without
from bucketsync.errors import ConfigurationError

QUEUE = "arn:aws:sqs:us-east-1:123456789012:bucketsync"
TOPIC = "arn:aws:sns:us-east-1:123456789012:team"


def topic(events: list[str], prefix: str = "", suffix: str = "") -> dict[str, Any]:
    rules = [{"Name": n, "Value": v} for n, v in (("Prefix", prefix), ("Suffix", suffix)) if v]
    config: dict[str, Any] = {"Id": "team", "TopicArn": TOPIC, "Events": events}
    if rules:
        config["Filter"] = {"Key": {"FilterRules": rules}}
    return config


def test_a_bucket_s_other_notifications_survive_the_merge() -> None:
    # GIVEN a bucket that already notifies a team's topic of restores, and EventBridge
    current = {
        "TopicConfigurations": [topic(["s3:ObjectRestore:*"])],
        "EventBridgeConfiguration": {},
        "ResponseMetadata": {"HTTPStatusCode": 200},
    }
    # WHEN bucketsync's entry is merged in
    config = merged(current, Entry("bucketsync-prod", QUEUE, prefix="uploads/"))
    # THEN everything else is as it was, and bucketsync's entry is there once
    assert config["TopicConfigurations"] == current["TopicConfigurations"]
    assert config["EventBridgeConfiguration"] == {}
    assert "ResponseMetadata" not in config
    assert config["QueueConfigurations"] == [
        {
            "Id": "bucketsync-prod",
            "QueueArn": QUEUE,
            "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}},
        }
    ]
    # AND merging again (a redeploy) replaces it rather than adding a second one
    again = merged(config, Entry("bucketsync-prod", QUEUE, prefix="incoming/"))
    assert len(again["QueueConfigurations"]) == 1
    assert has(again, "bucketsync-prod") and not has(again, "bucketsync-other")


@pytest.mark.parametrize(
    ("other", "entry"),
    [
        (topic(["s3:ObjectCreated:Put"]), Entry("b", QUEUE)),
        (topic(["s3:ObjectCreated:*"], prefix="uploads/"), Entry("b", QUEUE, prefix="up")),
        (topic(["s3:ObjectRemoved:Delete"], suffix=".csv"), Entry("b", QUEUE, suffix="a.csv")),
    ],
)
def test_an_overlapping_filter_is_refused_with_a_clear_message(
    other: dict[str, Any], entry: Entry
) -> None:
    with pytest.raises(ConfigurationError, match="narrow one of the filters") as refused:
        merged({"TopicConfigurations": [other]}, entry)
    assert "team" in str(refused.value) and TOPIC in str(refused.value)


@pytest.mark.parametrize(
    "other",
    [
        topic(["s3:ObjectCreated:*"], prefix="reports/"),  # another prefix
        topic(["s3:ObjectCreated:*"], prefix="uploads/", suffix=".json"),  # another suffix
        topic(["s3:ObjectRestore:Completed"]),  # other events
    ],
)
def test_filters_that_do_not_overlap_are_accepted(other: dict[str, Any]) -> None:
    entry = Entry("b", QUEUE, prefix="uploads/", suffix=".csv")
    assert merged({"TopicConfigurations": [other]}, entry)["TopicConfigurations"] == [other]


def test_without_removes_only_bucketsync_s_entry() -> None:
    current = {
        "QueueConfigurations": [
            {"Id": "bucketsync-prod", "QueueArn": QUEUE, "Events": ["s3:ObjectCreated:*"]},
            {"Id": "theirs", "QueueArn": QUEUE + "-x", "Events": ["s3:ObjectRestore:*"]},
        ],
        "TopicConfigurations": [topic(["s3:ObjectRemoved:*"], prefix="z/")],
    }
    left = without(current, "bucketsync-prod")
    assert [q["Id"] for q in left["QueueConfigurations"]] == ["theirs"]
    assert left["TopicConfigurations"] == current["TopicConfigurations"]
    assert (
        without({"QueueConfigurations": current["QueueConfigurations"][:1]}, "bucketsync-prod")
        == {}
    )
