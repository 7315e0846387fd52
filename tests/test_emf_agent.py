"""The emulator's EMF agent: parsing, the listener under hostile input, and end to end.

Three layers, fastest first: ``parse`` on single lines (CloudWatch's EMF rules); the listener
in this process with a recording publisher (well-formed, malformed, huge, concurrent, UDP:
nothing lost, nothing crashes); and the emulator's own agent, driven by ``aws-embedded-metrics``
in agent mode as a learner drives it, read back with ``get_metric_data`` and
``filter_log_events``. No test sleeps: ``settle`` answers once everything sent is processed.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from environment.emf import settled, use_agent
from environment.emulator import free_port
from environment.emulator.emf import DEFAULT_LOG_STREAM, MAX_EVENT_BYTES, Agent, Malformed, parse
from environment.emulator.emf.publish import Outcome, Publisher, _chunks, _kept
from environment.emulator.emf.status import agent_status

NOW = 1_700_000_000_000


def emf(metrics: dict[str, object] | None = None, dimensions=(("Service", "Tenant"),),
        units: dict[str, str] | None = None, group: str | None = "g", stream: str | None = None,
        namespace: str = "Lab", timestamp: object = NOW, **members: object) -> dict:
    metrics = {"Orders": 1} if metrics is None else metrics
    meta: dict = {"Timestamp": timestamp, "CloudWatchMetrics": [{
        "Namespace": namespace, "Dimensions": [list(d) for d in dimensions],
        "Metrics": [{"Name": n, "Unit": (units or {}).get(n, "Count")} for n in metrics]}]}
    if group is not None:
        meta["LogGroupName"] = group
    if stream is not None:
        meta["LogStreamName"] = stream
    return {"_aws": meta, "Service": "orders", "Tenant": "tenant-a", **metrics, **members}


def line(document: dict) -> bytes:
    return json.dumps(document).encode()


# --- parse: CloudWatch's rules for one event --------------------------------------------------

def test_one_datum_per_metric_and_dimension_set():
    event = parse(line(emf({"Orders": 1, "Latency": [3, 3, 5]}, dimensions=(
        ("Service", "Tenant"), ("Tenant",), ()), units={"Latency": "Milliseconds"})))
    assert (event.log_group, event.log_stream, event.timestamp_ms) == ("g", DEFAULT_LOG_STREAM,
                                                                       NOW)
    assert event.problem is None and len(event.data) == 6
    latency = [d for d in event.data if d.name == "Latency"]
    assert [d.dimensions for d in latency] == [
        (("Service", "orders"), ("Tenant", "tenant-a")), (("Tenant", "tenant-a"),), ()]
    datum = latency[0].metric_datum()
    assert datum["Values"] == [3.0, 5.0] and datum["Counts"] == [2.0, 1.0]
    assert datum["Unit"] == "Milliseconds" and datum["Timestamp"] == datetime.fromtimestamp(
        NOW / 1000, UTC)


def test_the_event_names_its_stream_and_an_empty_dimension_list_means_no_dimensions():
    event = parse(line(emf(stream="tenant-a", dimensions=())))
    assert event.log_stream == "tenant-a" and [d.dimensions for d in event.data] == [()]
    assert parse(line(emf())).message == json.dumps(emf())
    assert parse(line(emf(stream=""))).log_stream == DEFAULT_LOG_STREAM  # the library's "no stream"
    assert parse(line(emf(group=None))).log_group == "Unknown-metrics"  # the library's default
    assert parse(line(emf(group="", ServiceName="orders"))).log_group == "orders-metrics"


@pytest.mark.parametrize(("raw", "says"), [
    (b"not json", "not JSON"),
    (b"[1, 2]", "not an object"),
    (b'{"Orders": 1}', "no _aws"),
    (b"\xff\xfe{}", "not UTF-8"),
    (line(emf(group=5)), "LogGroupName"),
    (line(emf(stream=5)), "LogStreamName"),
    (line(emf(timestamp="now")), "Timestamp"),
    (line(emf(timestamp=True)), "Timestamp"),
    (line(emf(timestamp=-1)), "Timestamp"),
    (b'{"_aws": {"Timestamp": NaN}}', "not JSON"),
    (b"[" * 100_000, "not JSON"),
    (b'{"x": "' + b"a" * MAX_EVENT_BYTES + b'"}', "at most"),
])
def test_what_cannot_be_stored_is_malformed(raw, says):
    with pytest.raises(Malformed, match=None) as raised:
        parse(raw)
    assert says in str(raised.value)


@pytest.mark.parametrize(("document", "says"), [
    (emf(Tenant=5), "dimension 'Tenant'"),
    ({**emf(), "Tenant": None}, "dimension 'Tenant'"),
    (emf(dimensions=(("Missing",),)), "dimension 'Missing'"),
    (emf(dimensions=(tuple(f"d{i}" for i in range(31)),)), "at most 30"),
    (emf({"Orders": "1"}), "metric 'Orders'"),
    (emf({"Orders": True}), "metric 'Orders'"),
    (emf({"Orders": []}), "metric 'Orders'"),
    (emf({"Orders": list(range(101))}), "metric 'Orders'"),
    (emf(units={"Orders": "Furlongs"}), "unit 'Furlongs'"),
    (emf(namespace=""), "Namespace"),
    (emf(namespace="x" * 256), "Namespace"),
])
def test_a_broken_directive_keeps_the_log_and_drops_the_metrics(document, says):
    event = parse(line(document))
    assert event.data == () and says in (event.problem or "")
    assert event.message == json.dumps(document)


def test_broken_directive_shapes():
    for meta in ({"CloudWatchMetrics": {}}, {"CloudWatchMetrics": [1]},
                 {"CloudWatchMetrics": [{"Namespace": "n", "Dimensions": "x", "Metrics": []}]},
                 {"CloudWatchMetrics": [{"Namespace": "n", "Dimensions": [], "Metrics": {}}]},
                 {"CloudWatchMetrics": [{"Namespace": "n", "Dimensions": [],
                                         "Metrics": [{"Unit": "Count"}]}]},
                 {"CloudWatchMetrics": [{"Namespace": "n", "Dimensions": [],
                                         "Metrics": [{"Name": "Orders",
                                                      "StorageResolution": 5}]}]}):
        document = {"_aws": {"Timestamp": NOW, "LogGroupName": "g", **meta}, "Orders": 1}
        assert parse(line(document)).problem, meta


def test_publisher_batches_within_cloudwatchs_limits():
    events = [parse(line(emf(timestamp=NOW + i, pad="x" * 1000))) for i in range(2_500)]
    chunks = list(_chunks(events))
    assert [e.timestamp_ms for chunk in chunks for e in chunk] == [NOW + i for i in range(2_500)]
    sizes = [sum(len(e.message) + 26 for e in chunk) for chunk in chunks]
    assert len(chunks) > 2 and max(sizes) <= 1_048_576  # 1 MB per PutLogEvents
    spread = [parse(line(emf(timestamp=NOW + i * 13 * 3600 * 1000))) for i in range(3)]
    assert [len(c) for c in _chunks(spread)] == [2, 1]  # a batch spans less than 24 hours
    assert _kept(5, {"tooOldLogEventEndIndex": 1, "tooNewLogEventStartIndex": 4}) == {2, 3}


# --- the listener, in this process, with a recording publisher --------------------------------

class Recorder:
    def __init__(self, fail_first: bool = False) -> None:
        self.events: list = []
        self.fail_first = fail_first

    def __call__(self, events: list) -> Outcome:
        if self.fail_first:
            self.fail_first = False
            raise RuntimeError("the emulator is not answering")
        self.events += events
        return Outcome(stored=len(events), published=sum(len(e.data) for e in events))


@pytest.fixture
def agent(tmp_path: Path):
    recorder = Recorder()
    running = Agent("127.0.0.1", free_port(), recorder, tmp_path / "agent.log")
    assert running.start(), running.error
    running.recorder = recorder  # type: ignore[attr-defined]
    yield running
    running.stop()


def send(agent: Agent, *chunks: bytes) -> None:
    with socket.create_connection(("127.0.0.1", agent.port)) as sock:
        for chunk in chunks:
            sock.sendall(chunk)


def log_lines(agent: Agent, kind: str) -> list[str]:
    return [x for x in agent.log_path.read_text().splitlines() if f" {kind} " in x]


def test_concurrent_senders_lose_nothing(agent):
    senders, each = 8, 250

    def sender(number: int) -> None:
        payload = b"".join(line(emf(stream=f"s{number}", seq=i)) + b"\n" for i in range(each))
        # split mid-line, as TCP may deliver it
        send(agent, payload[:777], payload[777:5000], payload[5000:])

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert agent.settle()
    status = agent.status()
    assert status["lines"] == status["stored"] == senders * each and status["malformed"] == 0
    for number in range(senders):  # every sender's events, in the order it sent them
        sequence = [json.loads(e.message)["seq"] for e in agent.recorder.events
                    if e.log_stream == f"s{number}"]
        assert sequence == list(range(each))


def test_malformed_and_huge_lines_are_logged_and_the_agent_goes_on(agent):
    huge = b'{"x": "' + b"a" * (3 * MAX_EVENT_BYTES) + b'"}'
    send(agent, line(emf(seq=1)) + b"\nnot json\n", huge[:100_000], huge[100_000:] + b"\n",
         b"\n  \n" + line(emf(seq=2)) + b"\r\n" + line({"Orders": 1}) + b"\n",
         line(emf(Tenant=7, seq=3)) + b"\n" + line(emf(seq=4)))  # the last line has no newline
    assert agent.settle()
    status = agent.status()
    assert [json.loads(e.message)["seq"] for e in agent.recorder.events] == [1, 2, 3, 4]
    assert (status["lines"], status["stored"], status["malformed"],
            status["without_metrics"]) == (7, 4, 3, 1)
    malformed = log_lines(agent, "MALFORMED")
    assert len(malformed) == 3
    assert "not JSON" in malformed[0] and "not json" in malformed[0]
    assert f"at most {MAX_EVENT_BYTES}" in malformed[1] and "no _aws" in malformed[2]
    assert "dimension 'Tenant'" in log_lines(agent, "NO-METRICS")[0]


def test_a_huge_event_within_the_limit_is_stored_whole(agent):
    document = emf(pad="p" * (MAX_EVENT_BYTES - 400))
    send(agent, line(document) + b"\n")
    assert agent.settle()
    assert [len(e.message) for e in agent.recorder.events] == [len(json.dumps(document))]


def test_udp_datagrams_are_events_too(agent):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(line(emf(seq=1)) + b"\n" + line(emf(seq=2)), ("127.0.0.1", agent.port))
        sock.sendto(b"garbage", ("127.0.0.1", agent.port))
    assert agent.settle()
    assert len(agent.recorder.events) == 2 and agent.status()["malformed"] == 1


def test_a_failing_publisher_is_logged_and_the_agent_keeps_serving(tmp_path):
    recorder = Recorder(fail_first=True)
    agent = Agent("127.0.0.1", free_port(), recorder, tmp_path / "agent.log", udp=False)
    assert agent.start()
    try:
        send(agent, line(emf(seq=1)) + b"\n")
        assert agent.settle()
        send(agent, line(emf(seq=2)) + b"\n")
        assert agent.settle()
        assert [json.loads(e.message)["seq"] for e in recorder.events] == [2]
        assert "publishing 1 events failed: RuntimeError" in log_lines(agent, "ERROR")[0]
    finally:
        agent.stop()


def test_a_taken_port_is_a_clear_error_not_a_crash(agent, tmp_path):
    second = Agent("127.0.0.1", agent.port, Recorder(), tmp_path / "second.log")
    assert not second.start() and not second.settle()
    assert "set LAB_EMF_PORT" in (second.error or "")
    assert "cannot listen" in second.log_path.read_text()


def test_settings_expose_the_agent_endpoint():
    from environment.settings import load_settings

    assert load_settings({}).emf_endpoint == "tcp://127.0.0.1:25888"
    moved = load_settings({"LAB_EMF_PORT": "25999"})
    assert moved.emf_environ() == {"AWS_EMF_AGENT_ENDPOINT": "tcp://127.0.0.1:25999",
                                   "AWS_EMF_ENVIRONMENT": "Default"}


# --- the emulator's agent, end to end ----------------------------------------------------------

def window() -> dict:
    now = datetime.now(UTC)
    return {"StartTime": now - timedelta(hours=1), "EndTime": now + timedelta(minutes=10)}


def metric_sum(lab, namespace: str, name: str, **dimensions: str) -> float:
    answer = lab.client("cloudwatch").get_metric_data(MetricDataQueries=[{
        "Id": "m", "MetricStat": {"Metric": {
            "Namespace": namespace, "MetricName": name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()]},
            "Period": 3600, "Stat": "Sum"}}], **window())
    return sum(answer["MetricDataResults"][0]["Values"])


@pytest.fixture(scope="module")
def emulator_agent(lab):
    status = agent_status(lab.settings)
    assert status["listening"], status
    return lab


def test_aws_embedded_metrics_in_agent_mode_end_to_end(emulator_agent):
    lab = emulator_agent
    from aws_embedded_metrics.config import get_config
    from aws_embedded_metrics.environment.environment_detector import EnvironmentCache
    from aws_embedded_metrics.logger.metrics_logger_factory import create_metrics_logger

    config = get_config()
    saved = (config.agent_endpoint, config.environment, config.log_group_name)
    use_agent(lab.settings, log_group="emf-test-orders")
    assert (config.agent_endpoint, config.environment) == (lab.settings.emf_endpoint, "Default")
    loads = {"tenant-a": 3, "tenant-b": 1, "tenant-c": 2}

    async def emit() -> None:
        for tenant, count in loads.items():
            for _ in range(count):
                metrics = create_metrics_logger()
                metrics.set_namespace("EmfTest")
                metrics.set_dimensions({"ServiceName": "orders", "Tenant": tenant,
                                        "Tier": "basic" if tenant != "tenant-a" else "premium"},
                                       {"Tenant": tenant})
                metrics.put_metric("OrderCreated", 1, "Count")
                metrics.put_metric("InvoiceTotalPrice", 10.5, "None")
                metrics.put_metric("InvoiceTotalPrice", 4.5, "None")  # two values, one event
                metrics.set_property("tenant_id", tenant)
                await metrics.flush()

    try:
        asyncio.run(emit())
    finally:
        config.agent_endpoint, config.environment, config.log_group_name = saved
        EnvironmentCache.environment = None
    status = settled(lab.settings)
    assert status["malformed"] == 0 and status["errors"] == 0
    for tenant, count in loads.items():
        assert metric_sum(lab, "EmfTest", "OrderCreated", Tenant=tenant) == count
        assert metric_sum(lab, "EmfTest", "InvoiceTotalPrice", Tenant=tenant) == 15 * count
        tier = "basic" if tenant != "tenant-a" else "premium"
        assert metric_sum(lab, "EmfTest", "OrderCreated", ServiceName="orders", Tenant=tenant,
                          Tier=tier) == count
    listed = lab.client("cloudwatch").list_metrics(Namespace="EmfTest", MetricName="OrderCreated")
    assert {len(m["Dimensions"]) for m in listed["Metrics"]} == {1, 3}
    events = lab.client("logs").filter_log_events(
        logGroupName="emf-test-orders",
        filterPattern='{ $.tenant_id = "tenant-a" }')["events"]
    assert len(events) == 3 and all(e["logStreamName"] == DEFAULT_LOG_STREAM for e in events)


def test_raw_events_keep_their_timestamp_stream_and_unit(emulator_agent):
    lab = emulator_agent
    stamp = int((datetime.now(UTC) - timedelta(minutes=30)).timestamp()) // 60 * 60 * 1000
    document = emf({"Latency": [12, 12, 30]}, units={"Latency": "Milliseconds"},
                   group="emf-test-raw", stream="tenant-a", namespace="EmfRaw", timestamp=stamp)
    with socket.create_connection(("127.0.0.1", lab.settings.emf_port)) as sock:
        sock.sendall(line(document) + b"\nbroken\n")
    status = agent_status(lab.settings)
    assert status["malformed"] >= 1
    stored = lab.client("logs").get_log_events(logGroupName="emf-test-raw",
                                               logStreamName="tenant-a")["events"]
    assert [(e["timestamp"], e["message"]) for e in stored] == [(stamp, json.dumps(document))]
    answer = lab.client("cloudwatch").get_metric_statistics(
        Namespace="EmfRaw", MetricName="Latency", Statistics=["SampleCount", "Sum", "Maximum"],
        Dimensions=[{"Name": "Service", "Value": "orders"}, {"Name": "Tenant",
                                                             "Value": "tenant-a"}],
        Period=60, Unit="Milliseconds", **window())
    [point] = answer["Datapoints"]
    assert (point["SampleCount"], point["Sum"], point["Maximum"]) == (3, 54, 30)
    assert point["Timestamp"].timestamp() * 1000 == stamp and point["Unit"] == "Milliseconds"
    log = Path(status["log"]).read_text()
    assert "MALFORMED" in log and "'broken'" in log


def test_concurrent_senders_to_the_emulator_lose_nothing(emulator_agent):
    lab = emulator_agent
    senders, each = 4, 100

    def sender(number: int) -> None:
        with socket.create_connection(("127.0.0.1", lab.settings.emf_port)) as sock:
            sock.sendall(b"".join(
                line(emf(group="emf-test-load", namespace="EmfLoad", Tenant=f"t{number}",
                         timestamp=int(time.time() * 1000))) + b"\n" for _ in range(each)))

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    agent_status(lab.settings)
    for number in range(senders):
        assert metric_sum(lab, "EmfLoad", "Orders", Service="orders",
                          Tenant=f"t{number}") == each
    paginator = lab.client("logs").get_paginator("filter_log_events")
    stored = sum(len(page["events"]) for page in paginator.paginate(
        logGroupName="emf-test-load"))
    assert stored == senders * each


def test_only_the_administrator_reads_the_agents_status(emulator_agent):
    import requests

    answer = requests.get(f"{emulator_agent.settings.endpoint}/_lab/emf", timeout=10)
    assert answer.status_code == 403


def test_the_agent_writes_through_the_http_endpoint_as_the_account():
    writes: list = []

    class Client:
        class exceptions:  # noqa: N801 - boto3's shape
            ResourceNotFoundException = KeyError
            ResourceAlreadyExistsException = ValueError

        def __getattr__(self, name: str):
            return lambda **kwargs: writes.append((name, kwargs)) or {}

    publisher = Publisher(lambda service: Client(), clock=lambda: NOW / 1000)
    outcome = publisher.write([parse(line(emf(stream="s"))), parse(line(emf(stream="s")))])
    assert (outcome.stored, outcome.published) == (2, 2)
    assert [name for name, _ in writes] == ["create_log_group", "create_log_stream",
                                            "put_log_events", "put_metric_data"]
    publisher.write([parse(line(emf(stream="s")))])
    assert [name for name, _ in writes[4:]] == ["put_log_events", "put_metric_data"]
    stale = publisher.write([parse(line(emf(timestamp=NOW - 15 * 24 * 3600 * 1000))),
                             parse(line(emf(timestamp=NOW + 3 * 3600 * 1000)))])
    assert (stale.stored, stale.published, len(stale.rejected)) == (0, 0, 2)
    assert len(writes) == 6 and "more than 14 days old" in stale.rejected[0]


def test_a_reset_of_the_account_zeroes_the_counters_and_recreates_groups(agent):
    from environment.emulator.emf.status import with_agent

    forgotten: list[bool] = []
    passed: list[str] = []
    app = with_agent(lambda environ, start: passed.append(environ["PATH_INFO"]) or [b""],
                     agent, lambda: forgotten.append(True))
    send(agent, line(emf()) + b"\n")
    app({"PATH_INFO": "/moto-api/reset"}, lambda *a: None)
    assert forgotten == [True] and passed == ["/moto-api/reset"]
    assert agent.recorder.events and agent.status()["stored"] == 0  # sent before: processed
    answer = app({"PATH_INFO": "/_lab/emf", "QUERY_STRING": "settle=1"}, lambda *a: None)
    assert json.loads(b"".join(answer))["settled"] is True and passed == ["/moto-api/reset"]
