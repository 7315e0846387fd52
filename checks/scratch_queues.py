"""Throw-away SQS queues for checks: a check's messages never mix with a notebook's.

A queue is deleted if it exists and created again, so every run starts empty, in-flight
messages included (SQS allows one PurgeQueue a minute per queue; the emulator allows deleting
and creating a queue of the same name at once). The visibility timeout is long on purpose: a
message that learner code received and did not delete stays out of sight for the whole check
instead of coming back after a wall-clock delay, so what a check sees never depends on how fast
the machine is.
"""

from __future__ import annotations

from environment.lab import Lab

VISIBILITY_S = 60


def fresh_queue(lab: Lab, short_name: str) -> str:
    """The URL of an empty queue ``<prefix><short_name>``, made with the kit's own credentials."""
    sqs = lab.client("sqs")
    name = lab.settings.name(short_name)
    try:
        sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"])
    except sqs.exceptions.QueueDoesNotExist:
        pass
    return sqs.create_queue(QueueName=name,
                            Attributes={"VisibilityTimeout": str(VISIBILITY_S)})["QueueUrl"]
