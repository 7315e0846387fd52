"""Write parsed EMF events to CloudWatch Logs and publish their metrics to CloudWatch.

The agent writes as the account, through the emulator's own HTTP front door and the same boto3
calls a real agent makes (``PutLogEvents``, ``PutMetricData``), so what it stores is exactly
what a learner's ``filter_log_events`` or ``get_metric_data`` reads back. Like the CloudWatch
agent it creates the log group and stream the first time it writes to them, batches events
within CloudWatch's limits (10,000 events or 1 MB per call, sorted by time, spanning at most
24 hours), and publishes no metrics for an event CloudWatch Logs rejects (more than 14 days old
or 2 hours ahead: the agent checks its clock first, and trusts ``rejectedLogEventsInfo`` after).
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
MAX_VALUES_PER_DATUM = 150  # distinct Values per MetricData entry
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

    def __init__(self, client: Callable[[str], Any],
                 clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._clock = clock
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
        for namespace, merged in _merged(data).items():
            for start in range(0, len(merged), MAX_METRIC_DATA):
                part = merged[start:start + MAX_METRIC_DATA]
                try:
                    self._client("cloudwatch").put_metric_data(Namespace=namespace,
                                                               MetricData=part)
                    outcome.published += sum(int(sum(d["Counts"])) for d in part)
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


def _merged(data: list[Datum]) -> dict[str, list[dict[str, Any]]]:
    """The data as CloudWatch stores it: one entry per metric, dimensions, unit and period
    (a minute, or a second at high resolution), each value with its count.

    CloudWatch keeps data points at that granularity anyway, so reads are unchanged; the agent
    sends tens of entries where a burst had thousands of events.
    """
    merged: dict[tuple[Any, ...], dict[float, int]] = defaultdict(dict)
    for datum in data:
        period = 1000 if datum.storage_resolution == 1 else 60_000
        key = (datum.namespace, datum.name, datum.dimensions, datum.unit,
               datum.storage_resolution, datum.timestamp_ms - datum.timestamp_ms % period)
        counts = merged[key]
        for value in datum.values:
            counts[value] = counts.get(value, 0) + 1
    by_namespace: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (namespace, name, dimensions, unit, resolution, stamp), counts in merged.items():
        values = list(counts.items())
        for start in range(0, len(values), MAX_VALUES_PER_DATUM):
            part = values[start:start + MAX_VALUES_PER_DATUM]
            by_namespace[namespace].append(Datum(
                namespace, name, dimensions, (), unit, stamp, resolution).metric_datum(
                    {value: count for value, count in part}))
    return by_namespace


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
