# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runbook gates: the lines a system other than the database, the change request or a person answers.

Controller-only code (the action plugin ``dbops.runbooks.runbook_gate`` and the step engine use it).
One class per gate kind in ``KINDS``; each says which system it needs, whether it writes, and turns
the system's answer into a status (``passed``, ``failed``, ``open``, ``warning``) and a detail.
The decisions are pure: a kind sees the gate, its system's settings, the run's variables and what a
``Transport`` answered, so the unit tests drive every kind with canned answers. Adding a kind is one
class registered with ``@kind``.

Entry point: ``run_gates(gates, lines, step, variables, check_mode, transport)``; from an action
plugin, ``gate_runtime.run_task_gates`` supplies the controller transport and the templated variables.
"""

from __future__ import annotations

import base64
import datetime
import json
import math
import time
from urllib.parse import quote, urlencode

PASSED, FAILED, OPEN, WARNING = "passed", "failed", "open", "warning"
YES = ("yes", "y", "true", "1", "confirmed")
MASK = "********"
# Settings of a system that are secrets: never in a result, a message or a request's description.
SECRET_KEYS = ("token", "api_key", "password")
# An answer of an unexpected shape: the gate fails with what could not be read.
SHAPE_ERRORS = (KeyError, IndexError, TypeError, ValueError, AttributeError)


class GateConfigError(ValueError):
    """A gate in runbook_gates is wrong (unknown kind, missing or bad key); raised before any gate runs."""


class Request:
    """One HTTP call a gate makes; ``describe()`` is what messages may show (no headers, no secrets)."""

    def __init__(self, method, url, headers=None, body=None, expect=200, timeout=10, validate_certs=True, shown_url=None):
        self.method = method
        self.url = url
        self.headers = headers or {}
        self.body = body
        self.expect = expect
        self.timeout = timeout
        self.validate_certs = validate_certs
        self.shown_url = shown_url or url

    def describe(self):
        return "%s %s" % (self.method, self.shown_url)


class Answer:
    """What a system answered: HTTP ``status`` (-1: no answer), the body as text and as JSON, a message."""

    def __init__(self, status=-1, text="", msg=""):
        self.status = status
        self.text = text or ""
        self.msg = msg or ""
        try:
            self.json = json.loads(self.text) if self.text else None
        except ValueError:
            self.json = None

    @property
    def mapping(self):
        return self.json if isinstance(self.json, dict) else {}

    def said(self, request):
        """``GET <url> answered 401 (Unauthorized)``: for failure details."""
        return "%s answered %s (%s)" % (request.describe(), self.status if self.status >= 0 else "nothing", self.msg)


class Transport:
    """How gates reach the world: ``request(Request) -> Answer``, ``prompt(text) -> str or None``,
    ``sleep(seconds)`` and ``note(text)`` (a progress line for whoever watches the run).

    ``prompt`` returns None when nobody can answer (stdin not a terminal). Subclasses implement them;
    the action plugin's transport calls the systems from the controller and sleeps for real.
    """

    def request(self, request):
        raise NotImplementedError

    def prompt(self, text):
        return None

    def sleep(self, seconds):
        raise NotImplementedError

    def note(self, text):
        pass


class Context:
    """What a gate may read besides its own keys: the step, check mode, the run's variables, the clock."""

    def __init__(self, step, variables, check_mode=False, transport=None, now=None, step_gates=()):
        self.step = step
        self.variables = variables
        self.check_mode = check_mode
        self.transport = transport
        self.now = now or time.time
        self.step_gates = list(step_gates)
        self.wrote = False  # a write request of the current gate succeeded (the task's changed)

    def var(self, name, default=None):
        value = self.variables.get(name, default)
        return default if value is None else value

    @property
    def runbook(self):
        return self.var("runbook", {}) or {}

    @property
    def under_awx(self):
        return self.var("awx_job_id") is not None or self.var("tower_job_id") is not None

    def request(self, request):
        answer = self.transport.request(request)
        if request.method != "GET" and 200 <= answer.status < 300:
            self.wrote = True
        return answer


def text_of(value):
    return "" if value is None else str(value).strip()


def join_url(base, path):
    return text_of(base).rstrip("/") + (path or "")


# -- the kinds -----------------------------------------------------------------------------------

KINDS = {}


def kind(cls):
    """Register a gate kind class under its ``name``."""
    KINDS[cls.name] = cls()
    return cls


class GateKind:
    """A gate kind. Override ``evaluate`` (and ``would`` for kinds that write)."""

    name = ""
    # The inventory variable holding the system, and the name results show.
    system_var = ""
    gate_keys = ()          # required keys of the gate itself (bad config when missing)
    writes = False          # True: never runs in check mode

    def system_name(self, gate):
        return self.system_var

    def system(self, gate, ctx):
        if not self.system_var:
            return {}
        value = ctx.var(self.system_var, {})
        return value if isinstance(value, dict) else {}

    def system_keys(self, gate):
        """Keys the system needs; a missing or empty one leaves the gate open."""
        return ()

    def is_write(self, gate):
        return self.writes

    def validate(self, gate, ctx):
        """Raise GateConfigError naming the key for a gate that cannot be run."""
        for key in self.gate_keys:
            if gate.get(key) is None or text_of(gate.get(key)) == "":
                raise GateConfigError("missing key '%s'" % key)

    def would(self, gate, system, ctx):
        """What a write gate would do, for check mode."""
        return ""

    def evaluate(self, gate, system, ctx):
        """(status, detail) for a configured gate; calls ``ctx.request`` for its system's answers."""
        raise NotImplementedError


def auth_headers(system, scheme="Bearer "):
    """Authorization and Api-Key headers from a system's settings, then its own ``headers``."""
    headers = {}
    token = text_of(system.get("token"))
    if token:
        headers["Authorization"] = scheme + token
    if text_of(system.get("api_key")):
        headers["Api-Key"] = text_of(system["api_key"])
    headers.update(system.get("headers") or {})
    return headers


def http_options(system):
    return dict(timeout=system.get("timeout", 10), validate_certs=system.get("validate_certs", True))


@kind
class FlagGate(GateKind):
    """LaunchDarkly-shaped flag API: ``environments.<env>.on`` must equal ``expect_on``."""

    name = "flag"
    system_var = "flag_service"
    gate_keys = ("flag", "environment", "expect_on")

    def system_keys(self, gate):
        return ("url", "project", "token")

    def validate(self, gate, ctx):
        super().validate(gate, ctx)
        if not isinstance(gate["expect_on"], bool) and text_of(gate["expect_on"]).lower() not in ("true", "false", "yes", "no"):
            raise GateConfigError("expect_on must be true or false, not %r" % (gate["expect_on"],))

    def evaluate(self, gate, system, ctx):
        environment = text_of(system.get("environment")) or text_of(gate["environment"])  # the inventory's wins
        expect_on = as_bool(gate["expect_on"])
        url = "%s/api/v2/flags/%s/%s" % (text_of(system["url"]).rstrip("/"), quote(text_of(system["project"])),
                                         quote(text_of(gate["flag"])))
        request = Request("GET", url, headers=auth_headers(system, scheme=""), **http_options(system))
        answer = ctx.request(request)
        if answer.status != 200:
            return FAILED, answer.said(request)
        state = (answer.mapping.get("environments") or {}).get(environment)
        if not isinstance(state, dict) or "on" not in state:
            return FAILED, "flag %s has no environment %s in %s" % (gate["flag"], environment, request.describe())
        is_on = as_bool(state["on"])
        status = PASSED if is_on == expect_on else FAILED
        return status, "%s is %s in %s, expected %s" % (gate["flag"], on_off(is_on), environment, on_off(expect_on))


@kind
class HttpGate(GateKind):
    """``<method> <url><path>`` answers ``expect_status`` and a JSON with every ``expect_json`` key."""

    name = "http"
    gate_keys = ("service",)

    def system_name(self, gate):
        return text_of(gate.get("service"))

    def system(self, gate, ctx):
        value = ctx.var(text_of(gate.get("service")), {})
        return value if isinstance(value, dict) else {}

    def system_keys(self, gate):
        return ("url",)

    def is_write(self, gate):
        return method_of(gate) != "GET"

    def _request(self, gate, system):
        return Request(method_of(gate), join_url(system["url"], gate.get("path")), headers=auth_headers(system),
                       body=gate.get("body"), expect=int(gate.get("expect_status", 200)), **http_options(system))

    def would(self, gate, system, ctx):
        return self._request(gate, system).describe()

    def evaluate(self, gate, system, ctx):
        request = self._request(gate, system)
        answer = ctx.request(request)
        expected = gate.get("expect_json") or {}
        if answer.status != request.expect:
            return FAILED, "%s, expected %s" % (answer.said(request), request.expect)
        observed = {key: answer.mapping.get(key) for key in expected}
        if observed != expected:
            return FAILED, "%s answered %s, expected %s (%s)" % (request.describe(), json.dumps(observed), json.dumps(expected),
                                                                 truncate(answer.text, 200))
        return PASSED, "%s answered %s %s" % (request.describe(), answer.status, json.dumps(observed))


class QueryError(Exception):
    """A Prometheus query failed (HTTP, PromQL error, no data); the message says which and why."""


def prometheus_values(system, query, ctx):
    """The numbers an instant query answers (NaN is no data, left out); raises QueryError when it fails."""
    url = join_url(system["url"], "/api/v1/query?" + urlencode({"query": query}))
    request = Request("GET", url, headers=auth_headers(system), **http_options(system))
    answer = ctx.request(request)
    data = answer.mapping.get("data") or {}
    kind_of = data.get("resultType") if isinstance(data, dict) else None
    if answer.status != 200 or answer.mapping.get("status") != "success" or kind_of not in ("scalar", "vector"):
        raise QueryError("query %s failed: %s" % (query, answer.mapping.get("error") or answer.said(request)))
    values = [data["result"][1]] if kind_of == "scalar" else [series["value"][1] for series in data.get("result") or []]
    return [number for number in (float(value) for value in values) if not math.isnan(number)]


def prometheus_value(system, query, empty_is_zero, ctx):
    """(largest value, no series) of an instant query; no data raises QueryError unless ``empty_is_zero``."""
    numbers = prometheus_values(system, query, ctx)
    if not numbers and not empty_is_zero:
        raise QueryError("no data for %s (is the target scraped? set empty_is_zero only where no series means 0)" % query)
    return (max(numbers) if numbers else 0.0), not numbers


def number_of(mapping, key, default=None, where=""):
    """``mapping[key]`` as a float (``default`` when absent); GateConfigError naming the key otherwise."""
    value = mapping.get(key)
    if value is None:
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        raise GateConfigError("%s%s must be a number, not %r" % (where, key, value))


@kind
class PrometheusGate(GateKind):
    """The largest value of an instant query must be at most ``max``; no series is "no data"."""

    name = "prometheus"
    system_var = "prometheus"
    gate_keys = ("query", "max")

    def system_keys(self, gate):
        return ("url",)

    def validate(self, gate, ctx):
        super().validate(gate, ctx)
        number_of(gate, "max")

    def evaluate(self, gate, system, ctx):
        query = text_of(gate["query"])
        try:
            value, empty = prometheus_value(system, query, as_bool(gate.get("empty_is_zero", False)), ctx)
        except QueryError as e:
            return FAILED, str(e)
        status = PASSED if value <= float(gate["max"]) else FAILED
        return status, "%s = %g%s%s%s" % (query, value, " (no series, counted as 0)" if empty else "",
                                          ", at most " if status == PASSED else ", above the maximum ", gate["max"])


def validated_queries(gate, max_required):
    """The gate's ``queries``, each a mapping with ``name``, ``query`` (and ``max``); GateConfigError naming the key."""
    queries = gate.get("queries")
    if not isinstance(queries, list) or not queries:
        raise GateConfigError("missing key 'queries' (a non-empty list of {name, query, max})")
    names = []
    for index, item in enumerate(queries):
        where = "queries[%d]" % index
        if not isinstance(item, dict):
            raise GateConfigError("%s must be a mapping, not %r" % (where, item))
        for key in ("name", "query", "max") if max_required else ("name", "query"):
            if text_of(item.get(key)) == "":
                raise GateConfigError("%s: missing key '%s'" % (where, key))
        for key in ("max", "max_ratio"):
            number_of(item, key, where=where + ".")
        if text_of(item["name"]) in names:
            raise GateConfigError("%s: name '%s' is used twice (key 'name')" % (where, item["name"]))
        names.append(text_of(item["name"]))
    return queries


@kind
class PrometheusBaselineGate(GateKind):
    """Reads each of ``queries`` once; each value with a ``max`` must be at most it. The result keeps ``values``."""

    name = "prometheus_baseline"
    system_var = "prometheus"

    def system_keys(self, gate):
        return ("url",)

    def validate(self, gate, ctx):
        validated_queries(gate, max_required=False)

    def evaluate(self, gate, system, ctx):
        values, seen, wrong = {}, [], []
        for item in gate["queries"]:
            name, query = text_of(item["name"]), text_of(item["query"])
            try:
                value, empty = prometheus_value(system, query, as_bool(item.get("empty_is_zero", False)), ctx)
            except QueryError as e:
                wrong.append("%s: %s" % (name, e))
                continue
            values[name] = value
            limit = number_of(item, "max")
            seen.append("%s = %g%s" % (name, value, " (no series, counted as 0)" if empty else ""))
            if limit is not None and value > limit:
                wrong.append("%s (%s) = %g, above the maximum %g" % (name, query, value, limit))
        if wrong:
            return FAILED, "baseline not normal: " + "; ".join(wrong), {"values": values}
        return PASSED, "baseline recorded: " + ", ".join(seen), {"values": values}


def baseline_value(ctx, name):
    """The newest value ``name`` a ``prometheus_baseline`` result in runbook_gate_results holds, or None."""
    for result in reversed(list(ctx.var("runbook_gate_results", []) or [])):
        values = result.get("values") if isinstance(result, dict) and result.get("kind") == PrometheusBaselineGate.name else None
        if isinstance(values, dict) and name in values:
            return number_of(values, name)
    return None


class Track:
    """One query of a window: its threshold, its samples and its run of breaching samples."""

    def __init__(self, item, ctx):
        self.name, self.query = text_of(item["name"]), text_of(item["query"])
        self.empty_is_zero = as_bool(item.get("empty_is_zero", False))
        self.limit = float(item["max"])
        self.threshold, self.baseline, self.ratio, self.ratio_off = self.limit, None, None, ""
        baseline_name, ratio = text_of(item.get("baseline")), number_of(item, "max_ratio")
        if baseline_name:
            self.baseline = baseline_value(ctx, baseline_name)
            if self.baseline is None:
                self.ratio_off = "baseline %s not recorded by a prometheus_baseline gate: ratio off" % baseline_name
            elif self.baseline <= 0:
                self.ratio_off = "baseline %s = %g: ratio off" % (baseline_name, self.baseline)
            elif ratio is not None:
                self.threshold, self.ratio = min(self.limit, self.baseline * ratio), ratio
        self.samples, self.streak, self.breaches, self.error = [], 0, 0, ""

    def add(self, value, error=""):
        """One sample: a value, or None with the query's error (a breach)."""
        self.samples.append(value)
        if error:
            self.error = error
        breached = value is None or value > self.threshold
        self.streak = self.streak + 1 if breached else 0
        self.breaches += breached

    def sample(self, system, ctx):
        try:
            self.add(prometheus_value(system, self.query, self.empty_is_zero, ctx)[0])
        except (QueryError,) + SHAPE_ERRORS as e:
            self.add(None, "%s (counted as a breach)" % e)

    @property
    def last(self):
        value = self.samples[-1]
        return "error" if value is None else "%g" % value

    def limit_text(self):
        """``240 (the smaller of max 250 and baseline 120 x 2)``, ``250 (baseline ...: ratio off)`` or ``250``."""
        if self.ratio is not None:
            return "%g (the smaller of max %g and baseline %g x %g)" % (self.threshold, self.limit, self.baseline, self.ratio)
        return "%g%s" % (self.threshold, " (%s)" % self.ratio_off if self.ratio_off else "")

    def progress(self, sustain):
        return "%s=%s%s" % (self.name, self.last, " (%d/%d over %g)" % (self.streak, sustain, self.threshold) if self.streak else "")

    def failure(self, sustain, elapsed, seconds):
        last = ", ".join("error" if value is None else "%g" % value for value in self.samples[-sustain:])
        return "%s breached %d samples in a row after %gs of the %gs window: last %s, threshold %s; query %s%s" % (
            self.name, sustain, elapsed, seconds, last, self.limit_text(), self.query,
            "; last error: %s" % self.error if self.error else "")

    def verdict(self):
        """``p95_ms = 150, within the threshold 200``, or the breach (with the error of a failed query)."""
        if self.samples[-1] is None:
            return "%s = error above the threshold %s; %s" % (self.name, self.limit_text(), self.error)
        return "%s = %s%s threshold %s" % (self.name, self.last, " above the" if self.streak else ", within the", self.limit_text())

    def summary(self):
        numbers = [value for value in self.samples if value is not None]
        seen = "max %g" % max(numbers) if numbers else "no value"
        return "%s %s, %d breaching of %s" % (self.name, seen, self.breaches, self.limit_text())


@kind
class PrometheusWindowGate(GateKind):
    """Samples ``queries`` every ``interval`` for ``seconds``; ``sustain`` breaching samples in a row fail at once."""

    name = "prometheus_window"
    system_var = "prometheus"

    def system_keys(self, gate):
        return ("url",)

    @staticmethod
    def settings(gate):
        """(seconds, interval, sustain) of a gate; GateConfigError naming the key when one is wrong."""
        seconds = number_of(gate, "seconds")
        if seconds is None:
            minutes = number_of(gate, "minutes")
            if minutes is None:
                raise GateConfigError("missing key 'seconds' (or 'minutes')")
            seconds = minutes * 60
        if seconds <= 0:
            raise GateConfigError("seconds must be > 0, not %g" % seconds)
        interval = number_of(gate, "interval", 5.0)
        if interval <= 0:
            raise GateConfigError("interval must be > 0, not %g" % interval)
        sustain = number_of(gate, "sustain", 3.0)
        if sustain < 1 or sustain != int(sustain):
            raise GateConfigError("sustain must be a whole number >= 1, not %g" % sustain)
        return seconds, interval, int(sustain)

    def validate(self, gate, ctx):
        validated_queries(gate, max_required=True)
        self.settings(gate)

    def evaluate(self, gate, system, ctx):
        seconds, interval, sustain = self.settings(gate)
        tracks = [Track(item, ctx) for item in gate["queries"]]
        start = ctx.now()
        while True:
            for track in tracks:
                track.sample(system, ctx)
            elapsed = round(ctx.now() - start, 1)
            ctx.transport.note("monitor %g/%gs: %s" % (elapsed, seconds, " ".join(track.progress(sustain) for track in tracks)))
            if ctx.check_mode:
                return self.one_sample(tracks)
            failing = next((track for track in tracks if track.streak >= sustain), None)
            if failing:
                return FAILED, failing.failure(sustain, elapsed, seconds)
            remaining = seconds - (ctx.now() - start)
            if remaining <= 0:
                break
            ctx.transport.sleep(min(interval, remaining))
        summaries = "; ".join(track.summary() for track in tracks)
        return PASSED, "held %gs, %d samples every %gs: %s" % (seconds, len(tracks[0].samples), interval, summaries)

    @staticmethod
    def one_sample(tracks):
        """The verdict of a single sample (check mode): failed when a query breached in it."""
        status = FAILED if any(track.streak for track in tracks) else PASSED
        return status, "check mode: one sample, the window is not held: " + "; ".join(track.verdict() for track in tracks)


@kind
class GithubWorkflowGate(GateKind):
    """``workflow_dispatch`` of a GitHub Actions workflow; its outcome is not awaited (open)."""

    name = "github_workflow"
    system_var = "github"
    gate_keys = ("workflow",)
    writes = True

    def system_keys(self, gate):
        return ("repo", "token")

    def _ref(self, gate, system):
        return text_of(gate.get("ref")) or text_of(system.get("ref")) or "main"

    def would(self, gate, system, ctx):
        return "dispatch %s on %s@%s" % (gate["workflow"], system["repo"], self._ref(gate, system))

    def evaluate(self, gate, system, ctx):
        api = text_of(system.get("api_url")) or "https://api.github.com"
        url = "%s/repos/%s/actions/workflows/%s/dispatches" % (api.rstrip("/"), text_of(system["repo"]), quote(text_of(gate["workflow"])))
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        headers.update(auth_headers(system))
        request = Request("POST", url, headers=headers, body={"ref": self._ref(gate, system), "inputs": gate.get("inputs") or {}},
                          expect=204, **http_options(system))
        answer = ctx.request(request)
        if answer.status != 204:
            return FAILED, "dispatch of %s: %s" % (gate["workflow"], answer.said(request))
        return OPEN, "dispatched %s on %s@%s; its outcome is not awaited: check the run in GitHub Actions" % (
            gate["workflow"], system["repo"], self._ref(gate, system))


class NotifyGate(GateKind):
    """A gate whose system is ``runbook_notify.<kind>`` (Slack, PagerDuty, Jira)."""

    writes = True

    def system_name(self, gate):
        return "runbook_notify." + self.name

    def system(self, gate, ctx):
        notify = ctx.var("runbook_notify", {}) or {}
        value = notify.get(self.name) if isinstance(notify, dict) else None
        return value if isinstance(value, dict) else {}


@kind
class SlackGate(NotifyGate):
    """Posts ``message`` to ``channel``: a bot token (``xoxb-``) uses chat.postMessage, anything else is a webhook."""

    name = "slack"
    gate_keys = ("message",)

    def system_keys(self, gate):
        return ("token",)

    def _channel(self, gate, system):
        return text_of(gate.get("channel")) or text_of(system.get("channel"))

    def would(self, gate, system, ctx):
        return "post to %s: %s" % (self._channel(gate, system), gate["message"])

    def evaluate(self, gate, system, ctx):
        channel = self._channel(gate, system)
        token = text_of(system["token"])
        body = {"channel": channel, "text": text_of(gate["message"]),
                "username": text_of(ctx.var("runbook_gate_slack_username")) or "dbops.runbooks"}
        if token.startswith("xox"):
            request = Request("POST", "https://slack.com/api/chat.postMessage", body=body,
                              headers={"Authorization": "Bearer " + token}, **http_options(system))
        else:  # an incoming webhook: the token is the secret part of the URL, never shown
            request = Request("POST", "https://hooks.slack.com/services/" + token.lstrip("/"), body=body,
                              shown_url="https://hooks.slack.com/services/" + MASK, **http_options(system))
        answer = ctx.request(request)
        posted = answer.status == 200 and (answer.mapping.get("ok") is True if token.startswith("xox") else answer.text.strip() == "ok")
        if posted:
            return PASSED, "posted to %s" % channel
        error = answer.mapping.get("error") or truncate(answer.text, 200) or answer.msg
        return FAILED, truncate("Slack post to %s failed: %s (%s)" % (channel, answer.status, error), 300)


@kind
class PagerDutyGate(NotifyGate):
    """Opens (``action: open``) or closes a maintenance window, found again by its description."""

    name = "pagerduty"
    api = "https://api.pagerduty.com"

    def system_keys(self, gate):
        return ("token", "service", "requester_id") if self._action(gate) == "open" else ("token",)

    def _action(self, gate):
        return text_of(gate.get("action")) or "open"

    def validate(self, gate, ctx):
        if self._action(gate) not in ("open", "close"):
            raise GateConfigError("action must be open or close, not %r" % (gate.get("action"),))
        minutes = gate.get("minutes")
        if minutes is not None and not text_of(minutes).isdigit():
            raise GateConfigError("minutes must be a whole number, not %r" % (minutes,))

    def _minutes(self, gate, ctx):
        return int(gate.get("minutes") or ctx.runbook.get("maintenance_window_minutes") or 60)

    @staticmethod
    def description(ctx):
        described = text_of(ctx.var("runbook_gate_pagerduty_description"))
        if described:
            return described
        return "%s (%s): database migration" % (ctx.runbook.get("key", ""), ctx.runbook.get("change_request", ""))

    def would(self, gate, system, ctx):
        if self._action(gate) == "open":
            done = "open a %s-minute maintenance window on service %s" % (self._minutes(gate, ctx), system.get("service", ""))
        else:
            done = "close the maintenance window"
        return "%s '%s'" % (done, self.description(ctx))

    def _request(self, system, method, path, body=None, expect=200):
        headers = {"Authorization": "Token token=" + text_of(system["token"]),
                   "Accept": "application/vnd.pagerduty+json;version=2"}
        if text_of(system.get("requester_id")):
            headers["From"] = text_of(system["requester_id"])
        api = text_of(system.get("api_url")) or self.api
        return Request(method, api.rstrip("/") + path, headers=headers, body=body, expect=expect, **http_options(system))

    def evaluate(self, gate, system, ctx):
        description = self.description(ctx)
        lookup = self._request(system, "GET", "/maintenance_windows?filter=ongoing&limit=100")
        answer = ctx.request(lookup)
        if answer.status != 200:
            return FAILED, "PagerDuty lookup of the ongoing windows failed: %s" % answer.said(lookup)
        windows = answer.mapping.get("maintenance_windows") or []
        window = next((w for w in windows if isinstance(w, dict) and w.get("description") == description), None)
        if self._action(gate) == "open":
            if window:
                return PASSED, "maintenance window %s already open until %s '%s'" % (window.get("id"), window.get("end_time", "?"), description)
            start = datetime.datetime.fromtimestamp(ctx.now(), datetime.timezone.utc).replace(microsecond=0)
            end = start + datetime.timedelta(minutes=self._minutes(gate, ctx))
            body = {"maintenance_window": {"type": "maintenance_window", "start_time": start.isoformat(), "end_time": end.isoformat(),
                                           "description": description,
                                           "services": [{"id": text_of(system["service"]), "type": "service_reference"}]}}
            create = self._request(system, "POST", "/maintenance_windows", body=body, expect=201)
            answer = ctx.request(create)
            if answer.status not in (200, 201):
                return FAILED, "PagerDuty: %s" % answer.said(create)
            opened = answer.mapping.get("maintenance_window") or {}
            return PASSED, "opened maintenance window %s until %s '%s'" % (opened.get("id", "?"), opened.get("end_time", "?"), description)
        if not window:
            return PASSED, "no ongoing maintenance window to close '%s'" % description
        delete = self._request(system, "DELETE", "/maintenance_windows/" + quote(text_of(window.get("id"))), expect=204)
        answer = ctx.request(delete)
        if answer.status not in (200, 204):
            return FAILED, "PagerDuty: %s" % answer.said(delete)
        return PASSED, "closed maintenance window %s '%s'" % (window.get("id"), description)


@kind
class JiraGate(NotifyGate):
    """Comments ``comment`` on ``issue`` (Jira Cloud: ``user`` and API token; Data Center: a personal access token)."""

    name = "jira"
    gate_keys = ("issue", "comment")

    def system_keys(self, gate):
        return ("url", "token")

    def would(self, gate, system, ctx):
        return "comment on %s: %s" % (gate["issue"], gate["comment"])

    def evaluate(self, gate, system, ctx):
        user, token = text_of(system.get("user")), text_of(system["token"])
        if user:
            authorization = "Basic " + base64.b64encode(("%s:%s" % (user, token)).encode()).decode()
        else:
            authorization = "Bearer " + token
        url = join_url(system["url"], "/rest/api/2/issue/%s/comment" % quote(text_of(gate["issue"])))
        request = Request("POST", url, body={"body": text_of(gate["comment"])}, expect=201,
                          headers={"Authorization": authorization, "Accept": "application/json"}, **http_options(system))
        answer = ctx.request(request)
        if answer.status == 201:
            return PASSED, "commented on %s" % gate["issue"]
        errors = answer.mapping.get("errorMessages") or []
        return FAILED, "Jira comment on %s failed: %s%s" % (gate["issue"], answer.said(request), (" " + "; ".join(map(str, errors))) if errors else "")


@kind
class ChangeRequestGate(GateKind):
    """``change_request.id`` is the runbook's and carries every ``runbook.required_approvals`` and at least
    ``runbook.min_reviews`` distinct ``reviews``."""

    name = "change_request"

    def system_name(self, gate):
        return "change_request"

    def evaluate(self, gate, system, ctx):
        given = ctx.var("change_request", {}) or {}
        wanted = text_of(ctx.runbook.get("change_request"))
        required = list(ctx.runbook.get("required_approvals") or [])
        approvals = list(given.get("approvals") or []) if isinstance(given, dict) else []
        if not isinstance(given, dict) or given.get("id") is None:
            return FAILED, "no change_request given (AWX survey or -e change_request=...)"
        if text_of(given["id"]) != wanted:
            return FAILED, "change request %s is not the runbook's %s" % (given["id"], wanted)
        lacking = [name for name in required if name not in approvals]
        if lacking:
            return FAILED, "%s lacks approval from %s (approved by: %s)" % (given["id"], ", ".join(lacking), ", ".join(approvals) or "nobody")
        minimum = int(ctx.runbook.get("min_reviews") or 0)
        reviews = unique(text_of(name).strip().lower() for name in given.get("reviews") or [] if text_of(name).strip())
        if len(reviews) < minimum:
            return FAILED, "%s has %d review(s); the runbook needs at least %d" % (given["id"], len(reviews), minimum)
        reviewed = ", reviewed by %d" % len(reviews) if minimum else ""
        return PASSED, "%s approved by %s%s" % (given["id"], ", ".join(required), reviewed)


@kind
class TimingGate(GateKind):
    """The step's time so far is within ``max_minutes`` (default its ``expected_minutes``); over it warns."""

    name = "timing"

    def system_name(self, gate):
        return "runbook_step"

    @staticmethod
    def _minutes(gate, ctx):
        minutes = gate.get("max_minutes")
        if minutes is None:
            minutes = ((ctx.runbook.get("steps") or {}).get(ctx.step) or {}).get("expected_minutes")
        return minutes

    def validate(self, gate, ctx):
        minutes = self._minutes(gate, ctx)
        if minutes is None:
            raise GateConfigError("missing key 'max_minutes' (and runbook.steps['%s'] has no expected_minutes)" % ctx.step)
        try:
            float(minutes)
        except (TypeError, ValueError):
            raise GateConfigError("max_minutes must be a number, not %r" % (minutes,))

    def evaluate(self, gate, system, ctx):
        minutes = self._minutes(gate, ctx)
        started = ctx.var("runbook_step_started_epoch")
        if started is None or text_of(started) == "":
            return OPEN, "the step start was not recorded (runbook_step tasks_from: begin)"
        limit = float(minutes) * 60
        elapsed = round(ctx.now() - float(started), 1)
        within = elapsed <= limit
        return (PASSED if within else WARNING), "step running for %ss, %s the expected %gs" % (elapsed, "within" if within else "over", limit)


@kind
class ConfirmGate(GateKind):
    """A person confirms: the variable named by ``variable``, else a prompt where one can be answered."""

    name = "confirm"
    gate_keys = ("variable",)

    def system_name(self, gate):
        return "operator"

    @staticmethod
    def why_not_asked(ctx):
        """Why nobody is prompted (check mode, AWX, runbook_gate_prompt false), or '' when a prompt may be shown."""
        if ctx.check_mode:
            return "check mode"
        if ctx.under_awx:
            return "AWX"
        if not as_bool(ctx.var("runbook_gate_prompt", True)):
            return "runbook_gate_prompt is false"
        return ""

    def evaluate(self, gate, system, ctx):
        variable = text_of(gate["variable"])
        answer = text_of(ctx.var(variable, ""))
        if answer:
            return (PASSED if answer.lower() in YES else FAILED), "%s = %s" % (variable, json.dumps(answer))
        reason = self.why_not_asked(ctx)
        if reason:
            return OPEN, "not asked (%s); set %s=yes (AWX survey or -e) to confirm" % (reason, variable)
        typed = text_of(ctx.transport.prompt("%s %s. Type yes to confirm, no to fail the step; an empty answer leaves the gate open"
                                             % (gate.get("line"), gate.get("text"))))
        if not typed:
            return OPEN, "no answer at the prompt (empty, or stdin is not a terminal); set %s=yes to confirm" % variable
        return (PASSED if typed.lower() in YES else FAILED), "answered %s at the prompt" % json.dumps(typed.lower())


@kind
class NoGate(GateKind):
    """A line the step asks for that runbook_gates lacks: reported open, never dropped."""

    name = "no_gate"

    def system_name(self, gate):
        return ""

    def evaluate(self, gate, system, ctx):
        lines = unique(text_of(other.get("line")) for other in ctx.step_gates)
        return OPEN, "runbook_gates['%s'] has no gate at line %s (its lines: %s)" % (ctx.step, gate["line"], ", ".join(lines) or "none")


# -- running them --------------------------------------------------------------------------------

def as_bool(value):
    if isinstance(value, bool):
        return value
    return text_of(value).lower() in ("yes", "y", "true", "1", "on")


def on_off(value):
    return "on" if value else "off"


def method_of(gate):
    return text_of(gate.get("method")).upper() or "GET"


def truncate(text, length):
    text = text_of(text)
    return text if len(text) <= length else text[:length - 3] + "..."


def unique(values):
    seen = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen


def where(step, gate):
    return "runbook_gates['%s'] line %s" % (step, text_of(gate.get("line")) or "?")


def validate_gates(gates, step, ctx):
    """Raise GateConfigError (naming step, line and key) for the first gate that cannot be run."""
    if not isinstance(gates, list):
        raise GateConfigError("runbook_gates['%s'] must be a list of gates, not %s" % (step, type(gates).__name__))
    for gate in gates:
        if not isinstance(gate, dict):
            raise GateConfigError("runbook_gates['%s']: a gate must be a mapping, not %r" % (step, gate))
        for key in ("line", "kind"):
            if text_of(gate.get(key)) == "":
                raise GateConfigError("%s: missing key '%s'" % (where(step, gate), key))
        kind_name = text_of(gate["kind"])
        if kind_name not in KINDS or kind_name == "no_gate":
            known = ", ".join(sorted(name for name in KINDS if name != "no_gate"))
            raise GateConfigError("%s: unknown gate kind '%s' (key 'kind'; known: %s)" % (where(step, gate), kind_name, known))
        try:
            KINDS[kind_name].validate(gate, ctx)
        except GateConfigError as e:
            raise GateConfigError("%s (%s): %s" % (where(step, gate), kind_name, e))


def missing_keys(system, keys):
    return [key for key in keys if text_of(system.get(key)) == ""]


def secrets_of(systems):
    """Every secret value of the systems (tokens, keys, passwords), to mask in details."""
    found = []
    for system in systems:
        for key in SECRET_KEYS:
            value = text_of(system.get(key))
            if len(value) >= 4:
                found.append(value)
    return found


def redact(text, secrets):
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def run_gate(gate, ctx):
    """One gate's result {step, line, text, kind, status, detail, system, blocking} and what its kind adds (``values``)."""
    gate_kind = KINDS[text_of(gate["kind"])]
    system = gate_kind.system(gate, ctx)
    result = {"step": ctx.step, "line": text_of(gate["line"]), "text": text_of(gate.get("text")), "kind": gate_kind.name,
              "system": gate_kind.system_name(gate), "blocking": as_bool(gate.get("blocking", True))}
    missing = missing_keys(system, gate_kind.system_keys(gate))
    if missing:
        status, detail = OPEN, "%s is not configured (needs %s)" % (result["system"], ", ".join(missing))
    elif gate_kind.is_write(gate) and ctx.check_mode:
        status, detail = OPEN, "check mode: would " + gate_kind.would(gate, system, ctx)
    else:
        ctx.wrote = False
        try:
            status, detail, *added = gate_kind.evaluate(gate, system, ctx)  # a kind may add result keys: (status, detail, {...})
            result.update(*added)
        except GateConfigError:
            raise
        except SHAPE_ERRORS as e:
            status, detail = FAILED, "%s: could not read the answer (%s: %s)" % (result["system"], type(e).__name__, e)
    result.update(status=status, detail=redact(detail, secrets_of([system])), changed=ctx.wrote and status != FAILED)
    return result


def run_gates(gates, lines, step, variables, check_mode, transport, now=None):
    """Run the gates of ``step`` at ``lines`` and return their results, in the order of ``gates``.

    gates: the step's gate list (``runbook_gates[step]``); every gate is validated first, so bad
    config raises GateConfigError naming step, line and key before any gate calls anything.
    lines: the runbook lines to run (None: all of them); a line without a gate gives a ``no_gate``
    result (open). variables: a mapping of the run's resolved variables (the systems ``flag_service``,
    ``prometheus``, ``runbook_notify``, ...; ``runbook``, ``change_request``, ``runbook_step_started_epoch``,
    the confirm variables, ``runbook_gate_prompt``, ``awx_job_id``). check_mode: write gates stay open
    ("check mode: would ..."), read-only gates run. transport: a ``Transport`` (HTTP and prompts).
    Each result is {step, line, text, kind, status, detail, system, blocking, changed}; no result or
    detail carries a system's token. Callable in-process by any action plugin.
    """
    ctx = Context(step, variables, check_mode=check_mode, transport=transport, now=now)
    validate_gates(gates, step, ctx)
    ctx.step_gates = gates
    wanted = None if lines is None else [text_of(line) for line in lines]
    chosen = [gate for gate in gates if wanted is None or text_of(gate["line"]) in wanted]
    known = set(text_of(gate["line"]) for gate in gates)
    chosen += [{"line": line, "text": "(no gate at this line)", "kind": "no_gate"}
               for line in unique(wanted or []) if line not in known]
    return [run_gate(gate, ctx) for gate in chosen]


def blocking_failures(results):
    return [result for result in results if result["status"] == FAILED and result["blocking"]]


def summary(step, results):
    """The one-line message of a run: the failed blocking gates, or every gate's status."""
    failed = blocking_failures(results)
    if failed:
        return "%s: gate %s" % (step, "; gate ".join('%s "%s" failed: %s' % (r["line"], r["text"], r["detail"]) for r in failed))
    return " | ".join('%s %s%s "%s": %s' % (r["line"], r["status"].upper(), "" if r["blocking"] else " (not blocking)", r["text"], r["detail"])
                      for r in results) or "%s: no gates at these lines" % step


RESULT_KEYS = ("step", "line", "text", "kind", "status", "detail", "system", "blocking")
# Kept when a result has it: the values of a prometheus_baseline gate, which later prometheus_window gates compare to.
RESULT_KEYS_IF_ANY = ("values",)


def recorded(earlier, results):
    """runbook_gate_results after this run: the earlier results, then these (the report's shape)."""
    earlier = [dict(item) for item in earlier or [] if isinstance(item, dict)]
    return earlier + [dict({key: result[key] for key in RESULT_KEYS}, **{key: result[key] for key in RESULT_KEYS_IF_ANY if key in result})
                      for result in results]
