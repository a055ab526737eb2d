# -*- coding: utf-8 -*-
from __future__ import annotations

import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SPEC = importlib.util.spec_from_file_location(
    "downtime_poller", os.path.join(ROOT, "roles", "downtime_probe", "files", "downtime_poller.py"))
poller = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(poller)


def test_a_503_window_runs_from_the_first_503_to_the_first_answer_after_it():
    samples = [
        (100.0, 200, None, None),
        (100.5, 503, None, "30"),
        (101.0, 503, None, "30"),
        (101.5, 200, None, None),
        (102.0, None, "Connection refused", None),
        (102.5, 500, None, None),
        (103.0, 503, None, None),
    ]
    report = poller.summarize("http://app/health", 0.5, samples, 100.0, 103.2)
    assert report["polls"] == 7
    assert report["by_status"] == {"200": 2, "503": 3, "error": 1, "500": 1}
    assert [(w["duration_s"], w["responses"], w["retry_after"]) for w in report["windows"]] == [(1.0, 2, "30"), (0.0, 1, None)]
    assert report["downtime_s"] == 1.0
    assert report["errors"] == 2
    assert report["error_samples"][0]["error"] == "Connection refused"
    assert "503 window 1" in poller.render(report)


def test_no_503_is_said_plainly():
    report = poller.summarize("http://app/health", 0.05, [(1.0, 200, None, None)], 1.0, 2.0)
    assert report["windows"] == [] and report["first_503"] is None
    assert "no 503 seen" in poller.render(report)
