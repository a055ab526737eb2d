# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller transport against a real local HTTP server, and the templated task variables."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from ansible_collections.dbops.runbooks.plugins.plugin_utils.gate_runtime import ControllerTransport, TemplatedVars, run_task_gates
from ansible_collections.dbops.runbooks.plugins.plugin_utils.gates import Request


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/ok":
            self._answer(200, {"status": "ready", "auth": self.headers.get("Authorization")})
        else:
            self._answer(401, {"error": "bad token"})

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self._answer(201, {"got": json.loads(body), "type": self.headers.get("Content-Type")})

    def _answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % httpd.server_address[1]
    httpd.shutdown()


def test_answers_status_json_and_errors(server):
    transport = ControllerTransport()
    answer = transport.request(Request("GET", server + "/ok", headers={"Authorization": "Bearer t"}))
    assert (answer.status, answer.mapping) == (200, {"status": "ready", "auth": "Bearer t"})
    answer = transport.request(Request("GET", server + "/nope"))
    assert (answer.status, answer.mapping["error"]) == (401, "bad token")
    answer = transport.request(Request("POST", server + "/x", body={"a": 1}))
    assert answer.status == 201 and answer.mapping == {"got": {"a": 1}, "type": "application/json"}
    answer = transport.request(Request("GET", "http://127.0.0.1:1/", timeout=2))
    assert answer.status == -1 and answer.msg


def test_templated_vars_leave_undefined_secrets_unset():
    task_vars = {"vault_token": "abc", "runbook_gate_prompt": False,
                 "flag_service": {"url": "http://x", "token": trust_as_template("{{ vault_token }}"),
                                  "key": trust_as_template("{{ vault_missing }}")}}
    overrides = {"prometheus": {"url": trust_as_template("{{ 'http://p' }}")}}
    variables = TemplatedVars(Templar(loader=DataLoader(), variables=task_vars), task_vars, overrides)
    assert variables.get("flag_service") == {"url": "http://x", "token": "abc", "key": None}
    assert variables.get("prometheus") == {"url": "http://p"}
    assert variables.get("runbook_gate_prompt") is False
    assert variables.get("nothing", 3) == 3


def test_run_task_gates_reads_the_step_gates_and_appends_to_the_fact(server):
    task_vars = {
        "runbook_gates": {"s": [{"line": "1.4", "text": "ready", "kind": "http", "service": "api", "path": "/ok",
                                 "expect_json": {"status": "ready"}},
                                {"line": "1.9", "text": "later", "kind": "confirm", "variable": "nobody"}]},
        "api": {"url": server, "token": trust_as_template("{{ vault_api_token }}")},  # not loaded: no token sent
        "runbook_gate_results": [{"step": "earlier", "line": "0.1"}],
    }
    results, facts = run_task_gates(Templar(loader=DataLoader(), variables=task_vars), task_vars, "s", ["1.4"])
    assert [(r["line"], r["status"]) for r in results] == [("1.4", "passed")]
    assert [r["line"] for r in facts["runbook_gate_results"]] == ["0.1", "1.4"]
