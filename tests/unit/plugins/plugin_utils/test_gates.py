# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every gate kind: not configured -> open, pass, fail, bad config -> error, check mode of writes, no tokens."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from ansible_collections.dbops.runbooks.plugins.plugin_utils.gates import (
    KINDS,
    Answer,
    GateConfigError,
    Transport,
    recorded,
    run_gates,
    summary,
)

STEP = "deploy-community-core-schema"
TOKEN = "s3cret-token-4711"
NOW = 1_700_000_000.0
RUNBOOK = {"key": "communities_schema_v1", "change_request": "MIG-CR-884", "maintenance_window_minutes": 45,
           "required_approvals": ["Compliance", "Product Operations"],
           "steps": {STEP: {"expected_minutes": 8}}}
SYSTEMS = {
    "flag_service": {"url": "http://flags", "project": "academy", "token": TOKEN},
    "observability_api": {"url": "http://obs/", "token": TOKEN},
    "newrelic_events": {"url": "http://nr/v1/events", "api_key": TOKEN},
    "prometheus": {"url": "http://prom"},
    "github": {"repo": "academy/mobile", "token": TOKEN},
    "runbook_notify": {"slack": {"token": "xoxb-" + TOKEN}, "jira": {"url": "http://jira", "user": "bot@x", "token": TOKEN},
                       "pagerduty": {"token": TOKEN, "service": "PSVC", "requester_id": "bot@x"}},
}
GATES = {
    "flag": {"flag": "feed_v2", "environment": "production", "expect_on": False},
    "http": {"service": "observability_api", "path": "/v1/plan", "expect_json": {"status": "ready"}},
    "http_post": {"kind": "http", "service": "newrelic_events", "method": "POST", "body": [{"eventType": "x"}],
                  "expect_json": {"success": True}},
    "prometheus": {"query": "sum(errors)", "max": 0},
    "prometheus_baseline": {"queries": [{"name": "p95_ms", "query": "p95", "max": 250},
                                        {"name": "errors", "query": "sum(errors)", "max": 0, "empty_is_zero": True}]},
    "prometheus_window": {"queries": [{"name": "p95_ms", "query": "p95", "max": 500, "baseline": "p95_ms", "max_ratio": 2},
                                      {"name": "errors", "query": "sum(errors)", "max": 0, "empty_is_zero": True}],
                          "seconds": 60, "interval": 5, "sustain": 3},
    "github_workflow": {"workflow": "contract.yml"},
    "slack": {"channel": "#war-room", "message": "starts now"},
    "jira": {"issue": "MIG-310", "comment": "signed off"},
    "pagerduty": {"action": "open"},
    "change_request": {},
    "timing": {"max_minutes": 5},
    "confirm": {"variable": "confirm_ack"},
}


class FakeTransport(Transport):
    """Answers by (method, url prefix); records every request, prompt and note; sleeping moves its clock."""

    def __init__(self, answers=(), typed=None):
        self.answers = list(answers)
        self.requests = []
        self.typed = typed
        self.prompts = []
        self.clock = NOW
        self.sleeps = []
        self.notes = []

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.clock += seconds

    def note(self, text):
        self.notes.append(text)

    def request(self, request):
        self.requests.append(request)
        for method, prefix, status, body in self.answers:
            if request.method == method and request.url.startswith(prefix):
                return Answer(status, body if isinstance(body, str) else json.dumps(body), "HTTP %s" % status)
        return Answer(-1, "", "URLError: connection refused")

    def prompt(self, text):
        self.prompts.append(text)
        return self.typed


def gate_of(name, **extra):
    gate = dict(GATES[name], line="2.%d" % len(name), text="the %s gate" % name)
    gate.setdefault("kind", name)
    gate.update(extra)
    return gate


def run(gate, answers=(), variables=None, check_mode=False, typed=None, systems=None, transport=None):
    systems = SYSTEMS if systems is None else systems
    transport = transport or FakeTransport(answers, typed)
    merged = dict(systems, runbook=RUNBOOK, runbook_step_started_epoch=NOW - 60, runbook_gate_prompt=True,
                  change_request={"id": "MIG-CR-884", "approvals": ["Compliance", "Product Operations"]})
    merged.update(variables or {})
    results = run_gates([gate], None, STEP, merged, check_mode, transport, now=lambda: transport.clock)
    assert len(results) == 1
    result = results[0]
    assert TOKEN not in json.dumps(results), result
    return result, transport


def assert_status(result, status, *fragments):
    assert result["status"] == status, result
    for fragment in fragments:
        assert fragment in result["detail"], result


# -- every kind has a test -----------------------------------------------------------------------

def test_every_kind_is_tested():
    assert set(KINDS) - {"no_gate"} == {name for name in GATES if name != "http_post"}


# -- not configured -> open ------------------------------------------------------------------------

@pytest.mark.parametrize("name,needs", [
    ("flag", "flag_service is not configured (needs url, project, token)"),
    ("http", "observability_api is not configured (needs url)"),
    ("prometheus", "prometheus is not configured (needs url)"),
    ("prometheus_baseline", "prometheus is not configured (needs url)"),
    ("prometheus_window", "prometheus is not configured (needs url)"),
    ("github_workflow", "github is not configured (needs repo, token)"),
    ("slack", "runbook_notify.slack is not configured (needs token)"),
    ("jira", "runbook_notify.jira is not configured (needs url, token)"),
    ("pagerduty", "runbook_notify.pagerduty is not configured (needs token, service, requester_id)"),
])
def test_not_configured_is_open_and_asks_nothing(name, needs):
    result, transport = run(gate_of(name), systems={})
    assert_status(result, "open", needs)
    assert transport.requests == []


def test_an_empty_key_counts_as_not_set():
    systems = dict(SYSTEMS, flag_service={"url": "http://flags", "project": "academy", "token": None})
    result = run(gate_of("flag"), systems=systems)[0]
    assert_status(result, "open", "(needs token)")


def test_pagerduty_close_needs_only_the_token():
    result = run(gate_of("pagerduty", action="close"), systems={"runbook_notify": {"pagerduty": {"service": "x"}}})[0]
    assert_status(result, "open", "(needs token)")


# -- pass and fail -------------------------------------------------------------------------------

def flag_answer(on, status=200):
    return [("GET", "http://flags/api/v2/flags/academy/feed_v2", status, {"environments": {"production": {"on": on}}})]


def test_flag_passes_fails_and_says_what_it_saw():
    result, transport = run(gate_of("flag"), flag_answer(False))
    assert_status(result, "passed", "feed_v2 is off in production, expected off")
    assert transport.requests[0].headers["Authorization"] == TOKEN
    result = run(gate_of("flag"), flag_answer(True))[0]
    assert_status(result, "failed", "feed_v2 is on in production, expected off")
    result = run(gate_of("flag"), flag_answer(False, status=401))[0]
    assert_status(result, "failed", "GET http://flags/api/v2/flags/academy/feed_v2 answered 401")
    result = run(gate_of("flag", environment="staging"), flag_answer(False))[0]
    assert_status(result, "failed", "has no environment staging")


def test_flag_environment_of_the_inventory_wins():
    systems = dict(SYSTEMS, flag_service=dict(SYSTEMS["flag_service"], environment="staging"))
    answer = [("GET", "http://flags", 200, {"environments": {"staging": {"on": False}, "production": {"on": True}}})]
    result = run(gate_of("flag"), answer, systems=systems)[0]
    assert_status(result, "passed", "off in staging")


def test_http_compares_status_and_json():
    ok = [("GET", "http://obs/v1/plan", 200, {"status": "ready", "other": 1})]
    result, transport = run(gate_of("http"), ok)
    assert_status(result, "passed", 'GET http://obs/v1/plan answered 200 {"status": "ready"}')
    assert transport.requests[0].headers["Authorization"] == "Bearer " + TOKEN
    result = run(gate_of("http"), [("GET", "http://obs", 200, {"status": "draining"})])[0]
    assert_status(result, "failed", 'answered {"status": "draining"}, expected {"status": "ready"}')
    result = run(gate_of("http"), [("GET", "http://obs", 503, "down")])[0]
    assert_status(result, "failed", "answered 503", "expected 200")
    result = run(gate_of("http"))[0]
    assert_status(result, "failed", "answered nothing (URLError: connection refused)")


def test_http_post_is_a_write_with_its_api_key():
    result, transport = run(gate_of("http_post"), [("POST", "http://nr/v1/events", 200, {"success": True})])
    assert_status(result, "passed")
    assert result["changed"]
    assert transport.requests[0].headers["Api-Key"] == TOKEN
    assert transport.requests[0].body == [{"eventType": "x"}]


def prometheus(values, result_type="vector", status=200, state="success"):
    result = [{"metric": {}, "value": [NOW, value]} for value in values] if result_type == "vector" else [NOW, values[0]]
    return [("GET", "http://prom/api/v1/query?query=sum%28errors%29", status,
             {"status": state, "data": {"resultType": result_type, "result": result}})]


def test_prometheus_takes_the_largest_value():
    result = run(gate_of("prometheus"), prometheus(["0"]))[0]
    assert_status(result, "passed", "sum(errors) = 0, at most 0")
    result = run(gate_of("prometheus", max=180), prometheus(["12.5", "181"]))[0]
    assert_status(result, "failed", "sum(errors) = 181, above the maximum 180")
    result = run(gate_of("prometheus", max=1), prometheus(["0.5"], result_type="scalar"))[0]
    assert_status(result, "passed", "= 0.5")


def test_prometheus_no_data_fails_unless_empty_is_zero():
    result = run(gate_of("prometheus"), prometheus([]))[0]
    assert_status(result, "failed", "no data for sum(errors)")
    result = run(gate_of("prometheus"), prometheus(["NaN"]))[0]
    assert_status(result, "failed", "no data")
    result = run(gate_of("prometheus", empty_is_zero=True), prometheus([]))[0]
    assert_status(result, "passed", "(no series, counted as 0)")


def test_prometheus_query_error_is_named():
    answer = [("GET", "http://prom", 400, {"status": "error", "error": "parse error at char 4"})]
    result = run(gate_of("prometheus"), answer)[0]
    assert_status(result, "failed", "query sum(errors) failed: parse error at char 4")


def test_an_answer_of_an_unexpected_shape_fails_the_gate():
    answer = [("GET", "http://prom", 200, {"status": "success", "data": {"resultType": "vector", "result": [{"value": "x"}]}})]
    result = run(gate_of("prometheus"), answer)[0]
    assert_status(result, "failed", "prometheus: could not read the answer (")


class SampledPrometheus(FakeTransport):
    """Prometheus answering each query with its next value (the last one repeats); None is a 503, EMPTY no series."""

    def __init__(self, series):
        super().__init__()
        self.series = {query: list(values) for query, values in series.items()}

    def request(self, request):
        self.requests.append(request)
        values = self.series[parse_qs(urlsplit(request.url).query)["query"][0]]
        value = values.pop(0) if len(values) > 1 else values[0]
        if value is None:
            return Answer(503, "", "HTTP 503")
        result = [] if value == EMPTY else [{"metric": {}, "value": [self.clock, str(value)]}]
        return Answer(200, json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}}), "OK")


EMPTY = "no series"
BASELINE = {"runbook_gate_results": [
    {"kind": "prometheus_baseline", "values": {"p95_ms": 50.0}},
    {"kind": "prometheus", "values": {"p95_ms": 1.0}},  # not a baseline
    {"kind": "prometheus_baseline", "values": {"p95_ms": 100.0}},  # the newest
    {"kind": "prometheus_baseline", "values": {"other": 7.0}},
]}


def window(**keys):
    """The window gate of GATES at line 8.2 with ``keys`` changed (None: left out)."""
    gate = dict(GATES["prometheus_window"], line="8.2", kind="prometheus_window", **keys)
    return {key: value for key, value in gate.items() if value is not None}


def watch(series, variables=None, check_mode=False, **keys):
    transport = SampledPrometheus(series)
    result = run(dict(window(**keys), text="monitor the window"), variables=variables, check_mode=check_mode, transport=transport)[0]
    return result, transport


def test_prometheus_baseline_records_every_value():
    result, transport = run(gate_of("prometheus_baseline"), transport=SampledPrometheus({"p95": [120], "sum(errors)": [EMPTY]}))
    assert_status(result, "passed", "baseline recorded: p95_ms = 120, errors = 0 (no series, counted as 0)")
    assert result["values"] == {"p95_ms": 120.0, "errors": 0.0}
    assert [r.url for r in transport.requests] == ["http://prom/api/v1/query?query=p95", "http://prom/api/v1/query?query=sum%28errors%29"]


def test_prometheus_baseline_fails_on_max_errors_and_no_data():
    result = run(gate_of("prometheus_baseline"), transport=SampledPrometheus({"p95": [300], "sum(errors)": [0]}))[0]
    assert_status(result, "failed", "baseline not normal: p95_ms (p95) = 300, above the maximum 250")
    assert result["values"] == {"p95_ms": 300.0, "errors": 0.0}
    result = run(gate_of("prometheus_baseline"), transport=SampledPrometheus({"p95": [None], "sum(errors)": [0]}))[0]
    assert_status(result, "failed", "p95_ms: query p95 failed: GET http://prom/api/v1/query?query=p95 answered 503")
    assert result["values"] == {"errors": 0.0}
    queries = [{"name": "tps", "query": "p95"}]  # no max: recorded, never judged
    result = run(gate_of("prometheus_baseline", queries=queries), transport=SampledPrometheus({"p95": [EMPTY]}))[0]
    assert_status(result, "failed", "tps: no data for p95")
    result = run(gate_of("prometheus_baseline", queries=queries), transport=SampledPrometheus({"p95": [9000]}))[0]
    assert_status(result, "passed", "tps = 9000")


def test_prometheus_window_holds_the_whole_window():
    result, transport = watch({"p95": [150], "sum(errors)": [EMPTY]}, BASELINE)
    assert_status(result, "passed", "held 60s, 13 samples every 5s: p95_ms max 150, 0 breaching of 200 (the smaller of max 500 "
                                    "and baseline 100 x 2); errors max 0, 0 breaching of 0")
    assert transport.sleeps == [5] * 12 and transport.clock == NOW + 60
    assert transport.notes[0] == "monitor 0/60s: p95_ms=150 errors=0" and transport.notes[-1].startswith("monitor 60/60s:")


def test_prometheus_window_minutes_and_a_last_short_sleep():
    result, transport = watch({"p95": [1], "sum(errors)": [0]}, seconds=None, minutes=0.2, interval=5)
    assert_status(result, "passed", "held 12s, 4 samples")
    assert transport.sleeps == [5, 5, 2]


def test_prometheus_window_fails_at_once_on_a_sustained_absolute_breach():
    result, transport = watch({"p95": [150], "sum(errors)": [0, 1, 2, 3, 0]}, BASELINE)
    assert_status(result, "failed", "errors breached 3 samples in a row after 15s of the 60s window: last 1, 2, 3, threshold 0; "
                                    "query sum(errors)")
    assert len(transport.notes) == 4 and transport.clock == NOW + 15
    assert transport.notes[-1] == "monitor 15/60s: p95_ms=150 errors=3 (3/3 over 0)"


def test_prometheus_window_fails_on_the_ratio_over_the_baseline():
    result = watch({"p95": [250], "sum(errors)": [0]}, BASELINE)[0]
    assert_status(result, "failed", "p95_ms breached 3 samples in a row after 10s", "last 250, 250, 250, "
                  "threshold 200 (the smaller of max 500 and baseline 100 x 2)")


def test_prometheus_window_without_its_baseline_only_drops_the_ratio():
    result = watch({"p95": [250], "sum(errors)": [0]})[0]
    assert_status(result, "passed", "p95_ms max 250, 0 breaching of 500 (baseline p95_ms not recorded by a prometheus_baseline "
                                    "gate: ratio off)")
    zero = {"runbook_gate_results": [{"kind": "prometheus_baseline", "values": {"p95_ms": 0}}]}
    result = watch({"p95": [250], "sum(errors)": [0]}, zero)[0]
    assert_status(result, "passed", "0 breaching of 500 (baseline p95_ms = 0: ratio off)")


def test_prometheus_window_a_spike_is_not_sustained():
    result = watch({"p95": [150, 900, 150, 900, 900, 150], "sum(errors)": [0]}, BASELINE)[0]
    assert_status(result, "passed", "p95_ms max 900, 3 breaching of 200")


def test_prometheus_window_counts_an_error_as_a_breach():
    result = watch({"p95": [None], "sum(errors)": [0]}, BASELINE, sustain=2)[0]
    assert_status(result, "failed", "p95_ms breached 2 samples in a row after 5s", "last error, error",
                  "last error: query p95 failed: GET http://prom/api/v1/query?query=p95 answered 503 (HTTP 503) (counted as a breach)")
    no_data = [dict(GATES["prometheus_window"]["queries"][1], empty_is_zero=False)]
    result = watch({"p95": [100], "sum(errors)": [EMPTY]}, BASELINE, queries=no_data)[0]
    assert_status(result, "failed", "errors breached 3", "no data for sum(errors)")


def test_prometheus_window_in_check_mode_takes_one_sample():
    result, transport = watch({"p95": [150], "sum(errors)": [0]}, BASELINE, check_mode=True)
    assert_status(result, "passed")
    assert result["detail"] == ("check mode: one sample, the window is not held: p95_ms = 150, within the threshold 200 (the "
                                "smaller of max 500 and baseline 100 x 2); errors = 0, within the threshold 0")
    assert transport.sleeps == [] and len(transport.requests) == 2
    result = watch({"p95": [None], "sum(errors)": [0]}, BASELINE, check_mode=True)[0]
    assert_status(result, "failed", "check mode: one sample, the window is not held: p95_ms = error above the threshold 200",
                  "query p95 failed")


def test_github_dispatch_is_open_until_someone_checks_the_run():
    url = "https://api.github.com/repos/academy/mobile/actions/workflows/contract.yml/dispatches"
    result, transport = run(gate_of("github_workflow"), [("POST", url, 204, "")])
    assert_status(result, "open", "dispatched contract.yml on academy/mobile@main; its outcome is not awaited")
    assert transport.requests[0].body == {"ref": "main", "inputs": {}}
    result = run(gate_of("github_workflow", ref="v2"), [("POST", url, 404, {"message": "Not Found"})])[0]
    assert_status(result, "failed", "dispatch of contract.yml: POST %s answered 404" % url)


def test_slack_bot_token_and_webhook():
    ok = [("POST", "https://slack.com/api/chat.postMessage", 200, {"ok": True})]
    result, transport = run(gate_of("slack"), ok, variables={"runbook_gate_slack_username": "bot"})
    assert_status(result, "passed", "posted to #war-room")
    assert transport.requests[0].body == {"channel": "#war-room", "text": "starts now", "username": "bot"}
    result = run(gate_of("slack"), [("POST", "https://slack.com", 200, {"ok": False, "error": "channel_not_found"})])[0]
    assert_status(result, "failed", "Slack post to #war-room failed: 200 (channel_not_found)")
    hook = dict(SYSTEMS, runbook_notify={"slack": {"token": "T000/B000/" + TOKEN}})
    result, transport = run(gate_of("slack"), [("POST", "https://hooks.slack.com/services/T000/B000/", 200, "ok")], systems=hook)
    assert_status(result, "passed")
    result = run(gate_of("slack"), systems=hook)[0]
    assert_status(result, "failed", "Slack post to #war-room failed")


def test_jira_comment_with_user_or_personal_token():
    url = "http://jira/rest/api/2/issue/MIG-310/comment"
    result, transport = run(gate_of("jira"), [("POST", url, 201, {"id": "1"})])
    assert_status(result, "passed", "commented on MIG-310")
    assert transport.requests[0].headers["Authorization"].startswith("Basic ")
    assert transport.requests[0].body == {"body": "signed off"}
    pat = dict(SYSTEMS, runbook_notify={"jira": {"url": "http://jira", "token": TOKEN}})
    result, transport = run(gate_of("jira"), [("POST", url, 404, {"errorMessages": ["Issue does not exist"]})], systems=pat)
    assert_status(result, "failed", "Jira comment on MIG-310 failed", "Issue does not exist")
    assert transport.requests[0].headers["Authorization"] == "Bearer " + TOKEN


PD = "https://api.pagerduty.com/maintenance_windows"
DESCRIPTION = "communities_schema_v1 (MIG-CR-884): database migration"


def test_pagerduty_opens_a_window_once():
    ongoing = [("GET", PD + "?filter=ongoing", 200, {"maintenance_windows": []}),
               ("POST", PD, 201, {"maintenance_window": {"id": "PW1", "end_time": "later"}})]
    result, transport = run(gate_of("pagerduty"), ongoing)
    assert_status(result, "passed", "opened maintenance window PW1 until later '%s'" % DESCRIPTION)
    assert result["changed"]
    window = transport.requests[1].body["maintenance_window"]
    assert window["description"] == DESCRIPTION and window["services"] == [{"id": "PSVC", "type": "service_reference"}]
    assert window["end_time"] == "2023-11-14T22:58:20+00:00"  # NOW (22:13:20) + 45 minutes
    again = [("GET", PD, 200, {"maintenance_windows": [{"id": "PW1", "description": DESCRIPTION, "end_time": "later"}]})]
    result, transport = run(gate_of("pagerduty"), again)
    assert_status(result, "passed", "maintenance window PW1 already open until later")
    assert not result["changed"] and len(transport.requests) == 1


def test_pagerduty_closes_the_window_it_finds():
    found = [("GET", PD, 200, {"maintenance_windows": [{"id": "PW1", "description": DESCRIPTION}]}),
             ("DELETE", PD + "/PW1", 204, "")]
    result = run(gate_of("pagerduty", action="close"), found)[0]
    assert_status(result, "passed", "closed maintenance window PW1")
    result = run(gate_of("pagerduty", action="close"), [("GET", PD, 200, {"maintenance_windows": []})])[0]
    assert_status(result, "passed", "no ongoing maintenance window to close")
    result = run(gate_of("pagerduty"), [("GET", PD, 401, {"error": {"message": "Unauthorized"}})])[0]
    assert_status(result, "failed", "PagerDuty lookup of the ongoing windows failed: GET %s?filter=ongoing&limit=100 answered 401" % PD)


def test_change_request():
    result = run(gate_of("change_request"))[0]
    assert_status(result, "passed", "MIG-CR-884 approved by Compliance, Product Operations")
    result = run(gate_of("change_request"), variables={"change_request": {"id": "MIG-CR-884", "approvals": ["Compliance"]}})[0]
    assert_status(result, "failed", "MIG-CR-884 lacks approval from Product Operations (approved by: Compliance)")
    result = run(gate_of("change_request"), variables={"change_request": {"id": "MIG-CR-1"}})[0]
    assert_status(result, "failed", "change request MIG-CR-1 is not the runbook's MIG-CR-884")
    result = run(gate_of("change_request"), variables={"change_request": None})[0]
    assert_status(result, "failed", "no change_request given")


def test_change_request_counts_distinct_reviews():
    runbook = dict(RUNBOOK, min_reviews=2)
    given = {"id": "MIG-CR-884", "approvals": ["Compliance", "Product Operations"], "reviews": ["Ann", "ann "]}
    result = run(gate_of("change_request"), variables={"runbook": runbook, "change_request": given})[0]
    assert_status(result, "failed", "MIG-CR-884 has 1 review(s); the runbook needs at least 2")
    given["reviews"].append("Bo")
    result = run(gate_of("change_request"), variables={"runbook": runbook, "change_request": given})[0]
    assert_status(result, "passed", "approved by Compliance, Product Operations, reviewed by 2")


def test_timing_warns_past_its_limit():
    result = run(gate_of("timing"))[0]
    assert_status(result, "passed", "step running for 60.0s, within the expected 300s")
    result = run(gate_of("timing", max_minutes=0.5))[0]
    assert_status(result, "warning", "over the expected 30s")
    result = run(gate_of("timing", max_minutes=None))[0]  # the step's expected_minutes
    assert_status(result, "passed", "expected 480s")
    result = run(gate_of("timing"), variables={"runbook_step_started_epoch": None})[0]
    assert_status(result, "open", "the step start was not recorded")


@pytest.mark.parametrize("answer,status", [("yes", "passed"), ("Confirmed", "passed"), (" 1 ", "passed"), ("no", "failed")])
def test_confirm_by_variable(answer, status):
    result, transport = run(gate_of("confirm"), variables={"confirm_ack": answer})
    assert_status(result, status, "confirm_ack = ")
    assert transport.prompts == []


@pytest.mark.parametrize("variables,check_mode,reason", [
    ({}, True, "check mode"),
    ({"awx_job_id": 42}, False, "AWX"),
    ({"tower_job_id": 42}, False, "AWX"),
    ({"runbook_gate_prompt": False}, False, "runbook_gate_prompt is false"),
])
def test_confirm_never_prompts_where_nobody_answers(variables, check_mode, reason):
    result, transport = run(gate_of("confirm"), variables=variables, check_mode=check_mode)
    assert_status(result, "open", "not asked (%s); set confirm_ack=yes" % reason)
    assert transport.prompts == []


@pytest.mark.parametrize("typed,status,detail", [
    ("yes", "passed", 'answered "yes" at the prompt'),
    ("nope", "failed", 'answered "nope"'),
    ("", "open", "no answer at the prompt"),
    (None, "open", "stdin is not a terminal"),
])
def test_confirm_prompts_otherwise(typed, status, detail):
    result, transport = run(gate_of("confirm"), typed=typed)
    assert_status(result, status, detail)
    assert transport.prompts and "the confirm gate" in transport.prompts[0]


# -- check mode ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name,would", [
    ("slack", "check mode: would post to #war-room: starts now"),
    ("jira", "check mode: would comment on MIG-310: signed off"),
    ("pagerduty", "check mode: would open a 45-minute maintenance window on service PSVC '%s'" % DESCRIPTION),
    ("github_workflow", "check mode: would dispatch contract.yml on academy/mobile@main"),
    ("http_post", "check mode: would POST http://nr/v1/events"),
])
def test_writes_never_happen_in_check_mode(name, would):
    result, transport = run(gate_of(name), check_mode=True)
    assert_status(result, "open", would)
    assert transport.requests == [] and not result["changed"]


def test_pagerduty_close_in_check_mode():
    result = run(gate_of("pagerduty", action="close"), check_mode=True)[0]
    assert_status(result, "open", "check mode: would close the maintenance window '%s'" % DESCRIPTION)


def test_read_only_gates_run_in_check_mode():
    result, transport = run(gate_of("flag"), flag_answer(False), check_mode=True)
    assert_status(result, "passed")
    assert [r.method for r in transport.requests] == ["GET"]


# -- bad config ----------------------------------------------------------------------------------

@pytest.mark.parametrize("gate,message", [
    ({"line": "2.8", "kind": "promethus"}, "runbook_gates['%s'] line 2.8: unknown gate kind 'promethus' (key 'kind'; known: " % STEP),
    ({"line": "2.8", "kind": "prometheus", "max": 0}, "line 2.8 (prometheus): missing key 'query'"),
    ({"line": "2.8", "kind": "prometheus", "query": "up"}, "line 2.8 (prometheus): missing key 'max'"),
    ({"line": "2.8", "kind": "prometheus", "query": "up", "max": "lots"}, "max must be a number"),
    ({"line": "8.1", "kind": "prometheus_baseline"}, "line 8.1 (prometheus_baseline): missing key 'queries'"),
    ({"line": "8.1", "kind": "prometheus_baseline", "queries": [{"name": "a"}]}, "queries[0]: missing key 'query'"),
    ({"line": "8.1", "kind": "prometheus_baseline", "queries": [{"name": "a", "query": "up", "max": "lots"}]}, "queries[0].max must be a number"),
    ({"line": "8.2", "kind": "prometheus_window", "queries": [], "seconds": 60}, "line 8.2 (prometheus_window): missing key 'queries'"),
    (window(queries=[{"query": "up", "max": 1}]), "queries[0]: missing key 'name'"),
    (window(queries=[{"name": "a", "query": "up"}]), "queries[0]: missing key 'max'"),
    (window(queries=[{"name": "a", "query": "up", "max": 1, "max_ratio": "double"}]), "queries[0].max_ratio must be a number, not 'double'"),
    (window(queries=[{"name": "a", "query": "up", "max": 1}] * 2), "queries[1]: name 'a' is used twice"),
    (window(seconds=None), "(prometheus_window): missing key 'seconds' (or 'minutes')"),
    (window(seconds="1m"), "seconds must be a number, not '1m'"),
    (window(seconds=None, minutes="x"), "minutes must be a number"),
    (window(interval=0), "interval must be > 0"),
    (window(interval="often"), "interval must be a number"),
    (window(sustain=0), "sustain must be a whole number >= 1"),
    (window(sustain="x"), "sustain must be a number"),
    ({"line": "1.3", "kind": "flag", "flag": "x", "environment": "production"}, "line 1.3 (flag): missing key 'expect_on'"),
    ({"line": "1.4", "kind": "http", "path": "/x"}, "line 1.4 (http): missing key 'service'"),
    ({"line": "1.5", "kind": "slack", "channel": "#x"}, "line 1.5 (slack): missing key 'message'"),
    ({"line": "1.8", "kind": "jira", "issue": "MIG-1"}, "missing key 'comment'"),
    ({"line": "1.8", "kind": "pagerduty", "action": "reopen"}, "line 1.8 (pagerduty): action must be open or close"),
    ({"line": "7.3", "kind": "github_workflow"}, "missing key 'workflow'"),
    ({"line": "7.8", "kind": "confirm"}, "missing key 'variable'"),
    ({"line": "9.1", "kind": "timing"}, "missing key 'max_minutes'"),
    ({"kind": "timing"}, "line ?: missing key 'line'"),
])
def test_bad_config_fails_before_any_gate_runs(gate, message):
    good = gate_of("flag")
    transport = FakeTransport()
    with pytest.raises(GateConfigError) as error:
        run_gates([good, gate], None, STEP if gate.get("line") != "9.1" else "unknown-step", {"runbook": RUNBOOK}, False, transport)
    assert message in str(error.value)
    assert transport.requests == []


def test_gates_must_be_a_list():
    with pytest.raises(GateConfigError, match="must be a list"):
        run_gates({"line": "1"}, None, STEP, {}, False, FakeTransport())


# -- lines, order, the record ----------------------------------------------------------------------

def test_lines_pick_gates_in_runbook_order_and_report_missing_lines():
    gates = [gate_of("change_request", line="2.2"), gate_of("timing", line="2.3")]
    results = run_gates(gates, ["2.3", "2.9", 2.2], STEP, {"runbook": RUNBOOK, "runbook_step_started_epoch": NOW,
                                                           "change_request": {"id": "MIG-CR-884", "approvals": RUNBOOK["required_approvals"]}},
                        False, FakeTransport(), now=lambda: NOW)
    assert [(r["line"], r["kind"], r["status"]) for r in results] == [
        ("2.2", "change_request", "passed"), ("2.3", "timing", "passed"), ("2.9", "no_gate", "open")]
    assert results[2]["detail"] == "runbook_gates['%s'] has no gate at line 2.9 (its lines: 2.2, 2.3)" % STEP
    assert run_gates(gates, [], STEP, {}, False, FakeTransport()) == []


def test_summary_names_failed_blocking_gates_only():
    results = [{"line": "7.9", "text": "close PD", "status": "failed", "detail": "PagerDuty: boom", "blocking": False},
               {"line": "7.7", "text": "no 5xx", "status": "failed", "detail": "x = 3, above the maximum 0", "blocking": True}]
    assert summary(STEP, results) == STEP + ': gate 7.7 "no 5xx" failed: x = 3, above the maximum 0'
    assert summary(STEP, results[:1]) == '7.9 FAILED (not blocking) "close PD": PagerDuty: boom'


def test_recorded_keeps_the_values_of_a_baseline():
    result = run(gate_of("prometheus_baseline"), transport=SampledPrometheus({"p95": [120], "sum(errors)": [3]}))[0]
    assert result["status"] == "failed" and result["values"] == {"p95_ms": 120.0, "errors": 3.0}
    facts = recorded([], [result])
    assert facts[0]["values"] == {"p95_ms": 120.0, "errors": 3.0}
    assert set(facts[0]) == {"step", "line", "text", "kind", "status", "detail", "system", "blocking", "values"}


def test_recorded_appends_in_the_report_shape():
    result = run(gate_of("change_request"))[0]
    facts = recorded([{"step": "preflight-safety-checks", "line": "1.3"}], [result])
    assert facts[0] == {"step": "preflight-safety-checks", "line": "1.3"}
    assert set(facts[1]) == {"step", "line", "text", "kind", "status", "detail", "system", "blocking"}


def test_a_token_echoed_by_a_system_is_masked():
    answer = [("GET", "http://obs", 200, {"status": "bad token " + TOKEN})]
    result = run(gate_of("http"), answer)[0]
    assert_status(result, "failed", "bad token ********")
