"""Log queries where moto stops: the Logs Insights subset and JSON filter patterns.

Pure tests pin the subset (what each command means, what is refused); the boto3 tests prove
the emulator answers it through the real APIs, behind the IAM gate, which decides per log
group and refuses a query over a group the session may not read.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from environment.emulator.logs_query import QueryError, execute, message_filter

ACCOUNT = "123456789012"
LINES = [  # (tenant, level, amount, extra)
    ("tenant-a", "ERROR", 5, {}), ("tenant-b", "ERROR", 7, {}), ("tenant-a", "INFO", 3, {}),
    ("tenant-a", "ERROR", 2, {"http": {"status": 500}}), ("tenant-aa", "ERROR", 1, {}),
    ("tenant-c", "WARN", 10, {"tags": ["x", "y"]}),
]


def records(lines=LINES):
    return [(1_000 + i, json.dumps({"tenant_id": t, "level": lv, "amount": a, **extra}),
             "stream", "group", str(i), 0) for i, (t, lv, a, extra) in enumerate(lines)] + [
        (2_000, "plain text line ERROR tenant-a", "stream", "group", "99", 0)]


def rows(query: str) -> list[dict[str, str]]:
    return execute(query, records())


def column(query: str, name: str = "@ptr") -> list[str]:
    return [row.get(name) for row in rows(query)]


# --- what moto itself answers (measured on the pinned moto; if these fail, moto grew) --------

def test_moto_alone_ignores_filter_and_stats_and_matches_every_json_pattern():
    from moto.logs.logs_query.query_parser import parse_query
    from moto.logs.utils import EventMessageFilter

    parsed = parse_query('fields @message | filter tenant_id = "tenant-a" | stats count(*)')
    assert parsed.fields == ["@message"] and not hasattr(parsed, "filters")
    assert EventMessageFilter('{ $.tenant_id = "tenant-a" }').matches('{"tenant_id": "b"}')


# --- the Logs Insights subset ---------------------------------------------------------------

def test_one_tenants_errors_and_only_its_errors():
    query = 'fields @timestamp, tenant_id | filter tenant_id = "tenant-a" and level = "ERROR"'
    assert column(query) == ["3", "0"]  # newest first, tenant-aa and plain text excluded
    assert column(query + " | sort @timestamp asc") == ["0", "3"]


def test_per_tenant_totals():
    query = "stats count(*) as events, sum(amount) as total by tenant_id | sort total desc"
    assert rows(query) == [
        {"tenant_id": "tenant-a", "events": "3", "total": "10"},
        {"tenant_id": "tenant-c", "events": "1", "total": "10"},
        {"tenant_id": "tenant-b", "events": "1", "total": "7"},
        {"tenant_id": "tenant-aa", "events": "1", "total": "1"},
        {"events": "1"}]  # the plain-text line: no tenant_id, no amount, a group of its own


def test_statistics_and_their_labels():
    assert rows('filter tenant_id = "tenant-a" | stats count(), count(*), count(http.status), '
                "sum(amount), avg(amount), min(amount), max(amount)") == [
        {"count()": "3", "count(*)": "3", "count(http.status)": "1", "sum(amount)": "10",
         "avg(amount)": "3.3333333333", "min(amount)": "2", "max(amount)": "5"}]
    assert rows('filter tenant_id = "nobody" | stats count(*)') == [{"count(*)": "0"}]
    assert rows('filter tenant_id = "nobody" | stats count(*) by tenant_id') == []


def test_stats_by_two_fields_then_a_filter_on_the_rows():
    assert rows('stats count(*) as n by tenant_id, level | filter n > 1') == [
        {"tenant_id": "tenant-a", "level": "ERROR", "n": "2"}]


@pytest.mark.parametrize(("where", "expected"), [
    ('level != "ERROR"', ["5", "2"]),
    ('tenant_id = "tenant-a" or tenant_id = "tenant-b"', ["3", "2", "1", "0"]),
    ('not level = "ERROR"', ["99", "5", "2"]),  # not (false) is true for the plain line
    ('level = "ERROR" and (tenant_id = "tenant-b" or amount >= 5)', ["1", "0"]),
    ('tenant_id like "tenant-a"', ["4", "3", "2", "0"]),
    ("tenant_id like /^tenant-a$/", ["3", "2", "0"]),
    ("tenant_id =~ /a{2}/", ["4"]),
    ('tenant_id not like "tenant-a"', ["5", "1"]),
    ('tenant_id in ["tenant-b", "tenant-c"]', ["5", "1"]),
    ('tenant_id not in ["tenant-a", "tenant-aa", "tenant-b"]', ["5"]),
    ("amount > 4 and amount <= 7", ["1", "0"]),
    ("amount = 5", ["0"]),
    ("http.status = 500", ["3"]),
    ('tags.1 = "y"', ["5"]),
    ('@message like "plain text"', ["99"]),
    ('missing != "x"', []),  # a field the event lacks compares false, even with !=
    ("`tenant_id` = 'tenant-b'", ["1"]),
])
def test_filters(where, expected):
    assert column(f"filter {where}") == expected


def test_fields_display_sort_and_limit():
    assert rows('filter level = "WARN" | fields tenant_id, amount') == [
        {"tenant_id": "tenant-c", "amount": "10", "@ptr": "5"}]
    assert rows('filter level = "WARN"') == [
        {"@timestamp": "1970-01-01 00:00:01.005", "@message": records()[5][1], "@ptr": "5"}]
    assert column("fields amount | sort amount asc | limit 3", "amount") == ["1", "2", "3"]
    assert column("sort tenant_id asc, amount desc | limit 3", "@ptr") == ["0", "2", "3"]
    assert rows("stats sum(amount) as s by level | display s") == [
        {"s": "15"}, {"s": "3"}, {"s": "10"}]
    assert column("fields @logStream, @log", "@log") == ["group"] * 7


@pytest.mark.parametrize(("query", "says"), [
    ('parse @message "* *" as a, b', "'parse' is a Logs Insights command outside"),
    ("dedup tenant_id", "'dedup' is a Logs Insights command outside"),
    ("stats count(*) by bin(5m)", "functions such as bin()"),
    ("fields strlen(@message)", "functions such as strlen()"),
    ("stats percentile(amount, 90)", "not a statistic of the lab's subset"),
    ("stats sum()", "sum() needs a field"),
    ("filter level = ERROR", "quote strings"),
    ("filter level", "the query ends too early"),
    ("filter amount + 1 > 2", "unexpected character '+'"),
    ("limit 0", "limit takes a whole number"),
    ("limit 2.5", "limit takes a whole number"),
    ("stats count(*) | stats count(*)", "a second stats"),
    ("stats count(*) | fields a", "fields after stats"),
    ("fields a b", "expected '|'"),
    ("", "empty"),
    ("bogus", "'bogus' is not a command"),
    ("filter a like 5", "like takes"),
    ("filter a =~ \"x\"", "=~ takes a /regex/"),
    ("filter a like /(/", "regular expression"),
])
def test_what_is_outside_the_subset_is_refused_with_a_reason(query, says):
    with pytest.raises(QueryError, match=None) as raised:
        rows(query)
    assert says in str(raised.value)


# --- JSON filter patterns for FilterLogEvents ------------------------------------------------

def matched(pattern: str) -> list[str]:
    match = message_filter(pattern)
    assert match is not None
    return [r[4] for r in records() if match(r[1])]


@pytest.mark.parametrize(("pattern", "expected"), [
    ('{ $.tenant_id = "tenant-a" && $.level = "ERROR" }', ["0", "3"]),
    ('{$.tenant_id="tenant-a"&&$.level="ERROR"}', ["0", "3"]),
    ("{ $.tenant_id = tenant-a && $.level = ERROR }", ["0", "3"]),
    ('{ $.tenant_id = "tenant-a*" }', ["0", "2", "3", "4"]),
    ('{ $.level = "ERROR" && ($.tenant_id = "tenant-b" || $.amount > 4) }', ["0", "1"]),
    ('{ $.level != "ERROR" }', ["2", "5"]),
    ("{ $.amount >= 5 }", ["0", "1", "5"]),
    ("{ $.amount = 2 }", ["3"]),
    ("{ $.http.status = 500 }", ["3"]),
    ('{ $.tags[1] = "y" }', ["5"]),
    ("{ $.http NOT EXISTS && $.tags NOT EXISTS }", ["0", "1", "2", "4"]),
    ('{ $.missing != "x" }', []),
])
def test_json_filter_patterns(pattern, expected):
    assert matched(pattern) == expected


def test_plain_patterns_are_left_to_moto_and_broken_json_ones_refused():
    assert message_filter("ERROR") is None and message_filter('"tenant-a"') is None
    assert message_filter("") is None
    for broken in ("{ $.a = 1", "{ }", "{ level = 1 }", '{ $.a > "x" }', "{ $.a IS NULL }",
                   "{ $.a = }", "{ ($.a = 1 }"):
        with pytest.raises(ValueError):
            message_filter(broken)


def test_the_gate_reads_log_group_arns_and_refuses_foreign_ones():
    from environment.emulator.iam.calls import Call, Unclassifiable
    from environment.emulator.iam.requests import authorizations

    def resources(**params):
        call = Call("logs", "StartQuery", "json", params)
        return [q.resource for q in authorizations(call, lambda *a: None)]

    base = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:"
    assert resources(logGroupIdentifiers=[f"{base}b:*", "a"], logGroupName="a") == [
        f"{base}a", f"{base}b"]
    assert resources() == ["*"]
    assert resources(resourceArn=f"{base}c") == [f"{base}c"]
    for foreign in (f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:a",
                    "arn:aws:logs:us-east-1:999999999999:log-group:a", "arn:aws:s3:::a"):
        with pytest.raises(Unclassifiable):
            resources(logGroupIdentifier=foreign)
    with pytest.raises(Unclassifiable):
        authorizations(Call("logs", "PutLogEvents", "json", {"logGroupName": "a"}),
                       lambda *a: None)


# --- through boto3, behind the IAM gate ------------------------------------------------------

GROUP = "log-queries-test"


@pytest.fixture(scope="module")
def logs(lab):
    client = lab.client("logs")
    for group in (GROUP, f"{GROUP}-other"):
        client.create_log_group(logGroupName=group)
        client.create_log_stream(logGroupName=group, logStreamName="s")
    import time

    now = int(time.time() * 1000)
    client.put_log_events(logGroupName=GROUP, logStreamName="s", logEvents=[
        {"timestamp": now - 1000 + i, "message": message}
        for i, (_, message, *_rest) in enumerate(records())])
    return client, now


def window(now: int) -> dict[str, int]:
    return {"startTime": now // 1000 - 60, "endTime": now // 1000 + 60}


def query(client, now: int, text: str, **where) -> list[dict[str, str]]:
    where = where or {"logGroupName": GROUP}
    query_id = client.start_query(**where, **window(now), queryString=text)["queryId"]
    answer = client.get_query_results(queryId=query_id)
    assert answer["status"] == "Complete"
    return [{f["field"]: f["value"] for f in row} for row in answer["results"]]


def test_filter_log_events_with_a_json_pattern_finds_one_tenants_errors(logs):
    client, _ = logs
    found = client.filter_log_events(
        logGroupName=GROUP, filterPattern='{ $.tenant_id = "tenant-a" && $.level = "ERROR" }')
    assert [json.loads(e["message"])["amount"] for e in found["events"]] == [5, 2]
    plain = client.filter_log_events(logGroupName=GROUP, filterPattern="plain")
    assert len(plain["events"]) == 1  # moto's own term matching, untouched
    with pytest.raises(ClientError) as raised:
        client.filter_log_events(logGroupName=GROUP, filterPattern="{ $.level = }")
    assert raised.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "Invalid filter pattern" in raised.value.response["Error"]["Message"]
    with pytest.raises(ClientError):  # refused even where there is no event to match
        client.filter_log_events(logGroupName=f"{GROUP}-other", filterPattern="{ $.level = }")


def test_insights_filter_and_stats_through_the_api(logs):
    client, now = logs
    errors = query(client, now, 'fields tenant_id, amount | filter tenant_id = "tenant-a" '
                                'and level = "ERROR" | sort amount desc')
    assert [(r["tenant_id"], r["amount"]) for r in errors] == [("tenant-a", "5"),
                                                               ("tenant-a", "2")]
    totals = query(client, now, "stats sum(amount) as total by tenant_id",
                   logGroupNames=[GROUP, f"{GROUP}-other"])
    assert {r.get("tenant_id"): r["total"] for r in totals if "total" in r} == {
        "tenant-a": "10", "tenant-aa": "1", "tenant-b": "7", "tenant-c": "10"}


def test_a_query_outside_the_subset_is_a_malformed_query(logs):
    client, now = logs
    with pytest.raises(ClientError) as raised:
        client.start_query(logGroupName=GROUP, **window(now), queryString="parse @message 'x'")
    assert raised.value.response["Error"]["Code"] == "MalformedQueryException"
    assert "outside the lab's subset" in raised.value.response["Error"]["Message"]


# --- the IAM gate decides per log group and per namespace ------------------------------------

def _policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture(scope="module")
def tenant_logs(lab, logs):
    """A session that may read GROUP only and write metrics to namespace Lab/Tenant only."""
    iam = lab.client("iam")
    name = "log-queries-test-reader"
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=_policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
         "Action": "sts:AssumeRole"}))
    group_arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{GROUP}"
    iam.put_role_policy(RoleName=name, PolicyName="read", PolicyDocument=_policy(
        {"Effect": "Allow", "Action": ["logs:FilterLogEvents", "logs:StartQuery"],
         "Resource": group_arn},
        {"Effect": "Allow", "Action": "logs:GetLogEvents", "Resource": f"{group_arn}:*"},
        {"Effect": "Allow", "Action": ["logs:GetQueryResults", "cloudwatch:GetMetricData"],
         "Resource": "*"},
        {"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
         "Condition": {"StringEquals": {"cloudwatch:namespace": "Lab/Tenant"}}}))
    credentials = lab.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{name}", RoleSessionName="reader")["Credentials"]
    session = lab.session(credentials)
    return (session.client("logs", endpoint_url=lab.settings.endpoint),
            session.client("cloudwatch", endpoint_url=lab.settings.endpoint), logs[1])


def _denied(call) -> str:
    with pytest.raises(ClientError) as raised:
        call()
    assert raised.value.response["Error"]["Code"] in ("AccessDeniedException", "AccessDenied")
    return raised.value.response["Error"]["Message"]


def test_the_gate_decides_log_reads_per_group(tenant_logs):
    client, _, now = tenant_logs
    other = f"{GROUP}-other"
    assert client.filter_log_events(logGroupName=GROUP)["events"]
    assert f"log-group:{other}" in _denied(lambda: client.filter_log_events(
        logGroupName=other))
    assert query(client, now, "stats count(*)") == [{"count(*)": "7"}]
    _denied(lambda: client.start_query(logGroupNames=[GROUP, other], **window(now),
                                       queryString="stats count(*)"))
    _denied(lambda: client.start_query(logGroupName=other, **window(now),
                                       queryString="stats count(*)"))
    assert client.get_log_events(logGroupName=GROUP, logStreamName="s")["events"]
    other_arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{other}"
    assert f"log-group:{other}:log-stream:s" in _denied(lambda: client.get_log_events(
        logGroupIdentifier=other_arn, logStreamName="s"))


def test_the_gate_scopes_metric_writes_by_namespace(tenant_logs):
    _, cloudwatch, _ = tenant_logs
    cloudwatch.put_metric_data(Namespace="Lab/Tenant", MetricData=[
        {"MetricName": "Orders", "Value": 1}])
    _denied(lambda: cloudwatch.put_metric_data(Namespace="Lab/Other", MetricData=[
        {"MetricName": "Orders", "Value": 1}]))
