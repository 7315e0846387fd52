"""The account's SQS queues (``infrastructure.QUEUES``), each with its dead-letter queue.

A queue with ``dead_letter`` gets a redrive policy: after ``max_receives`` receives without a
delete, SQS moves the message to the dead-letter queue. That is the mechanism labs 3 and 6 use
to prove that no message is lost: every message ends processed or dead-lettered, counted.
"""

from __future__ import annotations

import json

from ..settings import Settings
from . import infrastructure as infra

SERVICE = "sqs"


def _urls(settings: Settings) -> dict[str, str]:
    """Every prefixed queue's name -> URL (ListQueues pages through NextToken)."""
    sqs = settings.client(SERVICE)
    found: dict[str, str] = {}
    for page in sqs.get_paginator("list_queues").paginate(QueueNamePrefix=settings.prefix):
        for url in page.get("QueueUrls", []):
            found[url.rsplit("/", 1)[-1]] = url
    return found


def queue_url(settings: Settings, short_name: str) -> str:
    return settings.client(SERVICE).get_queue_url(QueueName=settings.name(short_name))["QueueUrl"]


def queue_arn(settings: Settings, short_name: str) -> str:
    attributes = settings.client(SERVICE).get_queue_attributes(
        QueueUrl=queue_url(settings, short_name), AttributeNames=["QueueArn"])
    return attributes["Attributes"]["QueueArn"]


def ensure(settings: Settings) -> None:
    existing = _urls(settings)
    sqs = settings.client(SERVICE)
    for queue in infra.QUEUES:
        name = settings.name(queue.short_name)
        if name in existing:
            continue
        attributes = {"VisibilityTimeout": str(queue.visibility_timeout)}
        if queue.dead_letter is not None:
            attributes["RedrivePolicy"] = json.dumps({
                "deadLetterTargetArn": queue_arn(settings, queue.dead_letter),
                "maxReceiveCount": str(queue.max_receives)})
        sqs.create_queue(QueueName=name, Attributes=attributes,
                         tags={"lab": settings.prefix.rstrip("-")})


def teardown(settings: Settings) -> list[str]:
    """Delete every prefixed queue (the whole listing is read before the first delete)."""
    sqs = settings.client(SERVICE)
    doomed = _urls(settings)
    for url in doomed.values():
        sqs.delete_queue(QueueUrl=url)
    return [f"queue {name}" for name in doomed]
