"""Small helpers for the integration tests."""

from __future__ import annotations

from bucketsync.aws.clients import Clients


def file_items(clients: Clients, table: str, bucket: str, key: str) -> int:
    """How many items a file's partition holds (its rows of every generation, and manifest)."""
    answer = clients.dynamodb.query(
        TableName=table,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": f"FILE#{bucket}/{key}"}},
        Select="COUNT",
    )
    return int(answer["Count"])
