"""The stack's alarms: dead letters, function errors, messages waiting too long."""

from __future__ import annotations

from typing import Any

from bucketsync.deploy.cfn import att, ref


def alarms() -> dict[str, Any]:
    actions = {"Fn::If": ["HasAlarmTopic", [ref("AlarmTopicArn")], ref("AWS::NoValue")]}

    def alarm(
        description: str,
        namespace: str,
        metric: str,
        dimension: dict[str, Any],
        *,
        statistic: str,
        threshold: Any,
    ) -> dict[str, Any]:
        return {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmDescription": description,
                "Namespace": namespace,
                "MetricName": metric,
                "Dimensions": [dimension],
                "Statistic": statistic,
                "Period": 60,
                "EvaluationPeriods": 1,
                "Threshold": threshold,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
                "AlarmActions": actions,
            },
        }

    return {
        "DeadLettersAlarm": alarm(
            "Messages are in the DLQ: see `bucketsync status`, fix the cause, `dlq redrive`.",
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            {"Name": "QueueName", "Value": att("DeadLetterQueue", "QueueName")},
            statistic="Maximum",
            threshold=0,
        ),
        "FunctionErrorsAlarm": alarm(
            "The function failed whole batches: `bucketsync logs`.",
            "AWS/Lambda",
            "Errors",
            {"Name": "FunctionName", "Value": ref("Function")},
            statistic="Sum",
            threshold=0,
        ),
        "OldestMessageAlarm": alarm(
            "Messages wait in the queue longer than OldestMessageAlarmSeconds.",
            "AWS/SQS",
            "ApproximateAgeOfOldestMessage",
            {"Name": "QueueName", "Value": att("Queue", "QueueName")},
            statistic="Maximum",
            threshold=ref("OldestMessageAlarmSeconds"),
        ),
    }
