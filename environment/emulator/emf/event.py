"""One EMF line -> the log event to store and the metric data CloudWatch would extract.

The rules are CloudWatch's embedded metric format specification: the root is a JSON object
with an ``_aws`` member holding ``Timestamp`` (epoch milliseconds) and ``CloudWatchMetrics``, a
list of directives; each directive names a ``Namespace``, its ``Dimensions`` (a list of dimension
sets, each a list of up to 30 root member names whose values are strings) and its ``Metrics``
(up to 100 ``{Name, Unit, StorageResolution}``, each naming a root member that is a number or a
list of up to 100 numbers). One datum is published per metric and per dimension set, so a
metric declared with two dimension sets is counted under both, as on AWS.

An event that names no log group goes to ``<ServiceName>-metrics`` (``Unknown-metrics``), and
one that names no stream to ``emf-agent``: the defaults ``aws-embedded-metrics`` itself uses.

Two kinds of failure, as CloudWatch has them: a line that is no EMF event at all (not JSON, no
``_aws``, no timestamp) raises ``Malformed`` and is not stored; an event whose log
metadata is fine but whose metric directives break a rule is stored as a log event with no
metrics (``Event.problem`` says why), because CloudWatch keeps the log and skips extraction.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

MAX_EVENT_BYTES = 256 * 1024 - 26  # CloudWatch Logs: 256 KB per event, 26 of them its own
MAX_DIMENSIONS = 30
MAX_METRICS = 100
MAX_VALUES = 100
MAX_NAMESPACE = 255
DEFAULT_LOG_STREAM = "emf-agent"  # the stream the agent writes to when the event names none
UNITS = frozenset({
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
    "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
    "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second",
    "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second",
    "Terabits/Second", "Count/Second", "None"})


class Malformed(ValueError):
    """The line is not an EMF event the agent can store; the message says why, for its log."""


@dataclass(frozen=True)
class Datum:
    """One metric under one dimension set, shaped for ``PutMetricData``."""

    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    values: tuple[float, ...]
    unit: str
    timestamp_ms: int
    storage_resolution: int = 60

    def metric_datum(self) -> dict[str, Any]:
        """The ``MetricData`` entry: unique values with their counts, as CloudWatch keeps them."""
        counts: dict[float, int] = {}
        for value in self.values:
            counts[value] = counts.get(value, 0) + 1
        return {"MetricName": self.name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in self.dimensions],
                "Timestamp": datetime.fromtimestamp(self.timestamp_ms / 1000, UTC),
                "Values": list(counts), "Counts": [float(c) for c in counts.values()],
                "Unit": self.unit, "StorageResolution": self.storage_resolution}


@dataclass(frozen=True)
class Event:
    """A parsed line: where it goes, what is stored, what is published (and why not, if not)."""

    log_group: str
    log_stream: str
    message: str
    timestamp_ms: int
    data: tuple[Datum, ...] = field(default=())
    problem: str | None = None  # stored without metrics because of this


def parse(line: bytes | str) -> Event:
    """Read one line (without its newline). Raises ``Malformed`` when nothing can be stored."""
    raw = line if isinstance(line, bytes) else line.encode()
    if len(raw) > MAX_EVENT_BYTES:
        raise Malformed(f"the event is {len(raw)} bytes; CloudWatch Logs takes at most "
                        f"{MAX_EVENT_BYTES}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise Malformed(f"the line is not UTF-8 ({error.reason} at byte {error.start})") from None
    try:
        root = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:
        raise Malformed(f"the line is not JSON ({error})") from None
    if not isinstance(root, dict):
        raise Malformed(f"the line is JSON but not an object (a {type(root).__name__})")
    meta = root.get("_aws")
    if not isinstance(meta, dict):
        raise Malformed("the object has no _aws metadata object, so it is not an EMF event")
    group = meta.get("LogGroupName")
    if group is not None and not isinstance(group, str):
        raise Malformed("_aws.LogGroupName is not a string")
    if not (group or "").strip():  # aws-embedded-metrics' own default: <ServiceName>-metrics
        service = root.get("ServiceName")
        group = f"{service if isinstance(service, str) and service else 'Unknown'}-metrics"
    stream = meta.get("LogStreamName")
    if stream is not None and not isinstance(stream, str):
        raise Malformed("_aws.LogStreamName is not a string")
    # aws-embedded-metrics sends "" when no stream is configured: the agent's default applies
    timestamp = meta.get("Timestamp")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int | float) or timestamp < 0:
        raise Malformed("_aws.Timestamp must be a number of epoch milliseconds")
    event = Event(group, (stream or "").strip() or DEFAULT_LOG_STREAM, text, int(timestamp))
    try:
        data = tuple(_metrics(root, meta, int(timestamp)))
    except Malformed as problem:
        return Event(event.log_group, event.log_stream, text, event.timestamp_ms,
                     problem=str(problem))
    return Event(event.log_group, event.log_stream, text, event.timestamp_ms, data)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _metrics(root: dict[str, Any], meta: dict[str, Any], timestamp: int) -> list[Datum]:
    directives = meta.get("CloudWatchMetrics")
    if not isinstance(directives, list):
        raise Malformed("_aws.CloudWatchMetrics must be a list of metric directives")
    data: list[Datum] = []
    for number, directive in enumerate(directives, 1):
        where = f"CloudWatchMetrics[{number - 1}]"
        if not isinstance(directive, dict):
            raise Malformed(f"{where} is not an object")
        namespace = directive.get("Namespace")
        if not isinstance(namespace, str) or not 0 < len(namespace) <= MAX_NAMESPACE:
            raise Malformed(f"{where}.Namespace must be a string of 1 to {MAX_NAMESPACE} "
                            "characters")
        sets = _dimension_sets(root, directive.get("Dimensions"), where)
        metrics = directive.get("Metrics")
        if not isinstance(metrics, list) or len(metrics) > MAX_METRICS:
            raise Malformed(f"{where}.Metrics must be a list of at most {MAX_METRICS} metrics")
        for definition in metrics:
            name, unit, resolution = _definition(definition, where)
            values = _values(root, name, where)
            data += [Datum(namespace, name, dims, values, unit, timestamp, resolution)
                     for dims in sets]
    return data


def _dimension_sets(root: dict[str, Any], sets: Any,
                    where: str) -> list[tuple[tuple[str, str], ...]]:
    if not isinstance(sets, list):
        raise Malformed(f"{where}.Dimensions must be a list of dimension sets")
    if not sets:  # no dimension set: the metrics are published without dimensions
        return [()]
    found = []
    for names in sets:
        if not isinstance(names, list) or len(names) > MAX_DIMENSIONS:
            raise Malformed(f"{where}.Dimensions holds a set that is not a list of at most "
                            f"{MAX_DIMENSIONS} names")
        dims = []
        for name in names:
            value = root.get(name) if isinstance(name, str) else None
            if not isinstance(value, str) or not value:
                raise Malformed(f"{where}: dimension {name!r} must be a root member with a "
                                "non-empty string value")
            dims.append((name, value))
        found.append(tuple(dims))
    return found


def _definition(definition: Any, where: str) -> tuple[str, str, int]:
    if not isinstance(definition, dict) or not isinstance(definition.get("Name"), str) \
            or not definition["Name"]:
        raise Malformed(f"{where}.Metrics holds an entry without a Name")
    unit = definition.get("Unit", "None")
    if unit not in UNITS:
        raise Malformed(f"{where}: metric {definition['Name']!r} has unit {unit!r}, "
                        "which CloudWatch does not know")
    resolution = definition.get("StorageResolution", 60)
    if resolution not in (1, 60) or isinstance(resolution, bool):
        raise Malformed(f"{where}: metric {definition['Name']!r} has StorageResolution "
                        f"{resolution!r} (1 or 60)")
    return definition["Name"], unit, int(resolution)


def _values(root: dict[str, Any], name: str, where: str) -> tuple[float, ...]:
    value = root.get(name)
    values = value if isinstance(value, list) else [value]
    if not values or len(values) > MAX_VALUES or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for v in values):
        raise Malformed(f"{where}: metric {name!r} must be a root member holding a number or "
                        f"a list of 1 to {MAX_VALUES} numbers")
    return tuple(float(v) for v in values)
