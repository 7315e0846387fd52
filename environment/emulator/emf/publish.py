"""Write parsed EMF events to CloudWatch Logs and publish their metrics to CloudWatch.

The agent writes as the account. Log events go through the emulator's own HTTP front door with
the boto3 call a real agent makes (``PutLogEvents``), so what it stores is exactly what a
learner's ``filter_log_events`` reads back. Metric data takes ``put_metrics``: in the emulator,
moto's own ``PutMetricData`` backend call (``moto_adapter.put_metric_data``, the same call and
validation moto's handler makes), because serialising thousands of ``MetricData`` members over
HTTP and parsing them back costs ten times the rest of the agent's work; without it, boto3.

Like the CloudWatch agent it creates the log group and stream the first time it writes to
them, and batches events within CloudWatch's limits (10,000 events or 1 MB per call, sorted by
time, spanning less than 24 hours). It publishes no metrics for an event CloudWatch Logs
rejects (more than 14 days old or 2 hours ahead): it checks its clock first, and trusts
``rejectedLogEventsInfo`` after.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .event import Datum, Event

MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD = 26  # bytes CloudWatch Logs adds to each event's size
MAX_SPAN_MS = 24 * 3600 * 1000
MAX_METRIC_DATA = 1000  # MetricData entries per PutMetricData
PutMetrics = Callable[[str, list[dict[str, Any]]], None]  # (namespace, MetricData)
MAX_AGE_MS = 14 * 24 * 3600 * 1000  # CloudWatch Logs refuses older events ...
MAX_AHEAD_MS = 2 * 3600 * 1000  # ... and events more than two hours ahead


@dataclass
class Outcome:
    """What one ``write`` did, for the agent's counters and log."""

    stored: int = 0
    published: int = 0
    rejected: list[str] = field(default_factory=list)  # one line per rejected event or call
    errors: list[str] = field(default_factory=list)


class Publisher:
    """Writes batches of events with two boto3 clients (logs and cloudwatch) of the account."""

    def __init__(self, client: Callable[[str], Any], clock: Callable[[], float] = time.time,
                 put_metrics: PutMetrics | None = None) -> None:
        self._client = client
        self._clock = clock
        self._put_metrics = put_metrics or (lambda namespace, data: client(
            "cloudwatch").put_metric_data(Namespace=namespace, MetricData=data))
        self._ready: set[tuple[str, str]] = set()  # (group, stream) known to exist

    def forget(self) -> None:
        """The account was reset: create groups and streams again before writing."""
        self._ready.clear()

    def write(self, events: list[Event]) -> Outcome:
        outcome = Outcome()
        data: list[Datum] = []
        targets: dict[tuple[str, str], list[Event]] = defaultdict(list)
        now = self._clock() * 1000
        for event in events:
            if not now - MAX_AGE_MS <= event.timestamp_ms <= now + MAX_AHEAD_MS:
                outcome.rejected.append(_rejected(event))
                continue
            targets[(event.log_group, event.log_stream)].append(event)
        for (group, stream), batch in targets.items():
            for chunk in _chunks(sorted(batch, key=lambda e: e.timestamp_ms)):
                data += self._store(group, stream, chunk, outcome)
        by_namespace: dict[str, list[Datum]] = defaultdict(list)
        for datum in data:
            by_namespace[datum.namespace].append(datum)
        for namespace, datums in by_namespace.items():
            for start in range(0, len(datums), MAX_METRIC_DATA):
                part = datums[start:start + MAX_METRIC_DATA]
                try:
                    self._put_metrics(namespace, [d.metric_datum() for d in part])
                    outcome.published += sum(len(d.values) for d in part)
                except Exception as error:  # noqa: BLE001 - reported, never fatal
                    outcome.errors.append(f"PutMetricData to {namespace!r} failed for "
                                          f"{len(part)} data: {_reason(error)}")
        return outcome

    def _store(self, group: str, stream: str, chunk: list[Event],
               outcome: Outcome) -> list[Datum]:
        """PutLogEvents for one chunk; the metric data of the events CloudWatch Logs kept."""
        logs = self._client("logs")
        request = {"logGroupName": group, "logStreamName": stream,
                   "logEvents": [{"timestamp": e.timestamp_ms, "message": e.message}
                                 for e in chunk]}
        try:
            if (group, stream) not in self._ready:
                self._create(group, stream)
            try:
                answer = logs.put_log_events(**request)
            except logs.exceptions.ResourceNotFoundException:  # the account was reset
                self._create(group, stream)
                answer = logs.put_log_events(**request)
        except Exception as error:  # noqa: BLE001 - reported, never fatal
            self._ready.discard((group, stream))
            outcome.errors.append(f"PutLogEvents to {group}/{stream} failed for {len(chunk)} "
                                  f"events: {_reason(error)}")
            return []
        kept = _kept(len(chunk), answer.get("rejectedLogEventsInfo") or {})
        outcome.rejected += [_rejected(e) for i, e in enumerate(chunk) if i not in kept]
        outcome.stored += len(kept)
        return [datum for index in sorted(kept) for datum in chunk[index].data]

    def _create(self, group: str, stream: str) -> None:
        logs = self._client("logs")
        for call, kwargs in ((logs.create_log_group, {"logGroupName": group}),
                             (logs.create_log_stream, {"logGroupName": group,
                                                       "logStreamName": stream})):
            try:
                call(**kwargs)
            except logs.exceptions.ResourceAlreadyExistsException:
                pass
        self._ready.add((group, stream))


def _kept(count: int, rejected: dict[str, int]) -> set[int]:
    """The indices CloudWatch Logs stored, from its rejectedLogEventsInfo."""
    first = max(rejected.get("tooOldLogEventEndIndex", -1),
                rejected.get("expiredLogEventEndIndex", -1)) + 1
    end = rejected.get("tooNewLogEventStartIndex", count)
    return set(range(first, min(end, count)))


def _rejected(event: Event) -> str:
    return (f"{event.log_group}/{event.log_stream}: CloudWatch Logs rejects the event with "
            f"timestamp {event.timestamp_ms} (more than 14 days old or 2 hours ahead); its "
            "metrics are not published either")


def _chunks(events: list[Event]) -> Iterator[list[Event]]:
    chunk: list[Event] = []
    size = 0
    for event in events:
        cost = len(event.message.encode()) + EVENT_OVERHEAD
        if chunk and (len(chunk) == MAX_BATCH_EVENTS or size + cost > MAX_BATCH_BYTES
                      or event.timestamp_ms - chunk[0].timestamp_ms >= MAX_SPAN_MS):
            yield chunk
            chunk, size = [], 0
        chunk.append(event)
        size += cost
    if chunk:
        yield chunk


def _reason(error: Exception) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict) and "Error" in response:
        return f"{response['Error'].get('Code')}: {response['Error'].get('Message')}"
    return f"{type(error).__name__}: {error}"
