# -*- coding: utf-8 -*-
from __future__ import annotations

import json

import pytest

from ansible_collections.dbops.runbooks.plugins.module_utils.database import DbopsError
from ansible_collections.dbops.runbooks.plugins.module_utils.maintenance import (
    DISABLED, ENABLED, LaravelBackend, check_backend_options, command_args, dig, interpret_status,
    laravel_payload, mask_secret, normalize_laravel_payload, render_content, replicas_state, same_content,
    truthy_state)

SPEC = {
    "state": {}, "backend": {}, "app_path": {}, "retry": {}, "url": {}, "path": {},
    "use_shell": {"default": False}, "timeout": {"default": 10}, "status_enabled_regex": {},
    "status_is_replicas": {"default": False},
}


class FakeModule:
    """Only what the backends read: params (a real AnsibleModule is not needed for file logic)."""

    def __init__(self, **params):
        self.params = params


def test_laravel_payload_has_artisans_keys_and_defaults():
    payload = laravel_payload({"retry": 60, "redirect": "maintenance/", "secret": "s"})
    assert list(payload) == ["except", "redirect", "retry", "refresh", "secret", "status", "template"]
    assert payload == {"except": [], "redirect": "/maintenance", "retry": 60, "refresh": None,
                       "secret": "s", "status": 503, "template": None}


def test_a_down_file_written_by_artisan_compares_equal_to_ours():
    # artisan keeps --refresh as the string it was given and may omit nothing; we write ints.
    artisan = {"except": [], "redirect": None, "retry": 60, "refresh": "15", "secret": None,
               "status": 503, "template": None}
    assert normalize_laravel_payload(artisan) == laravel_payload({"retry": 60, "refresh": 15})
    assert normalize_laravel_payload("not json") is None


def test_the_bypass_secret_is_masked_and_the_input_kept():
    payload = {"secret": "s3cr3t", "retry": 5}
    assert mask_secret(payload) == {"secret": "********", "retry": 5}
    assert payload["secret"] == "s3cr3t"
    assert mask_secret({"secret": None}) == {"secret": None}
    assert mask_secret(None) is None


def test_json_content_is_compared_by_value_and_text_exactly():
    assert render_content({"a": 1}) == '{\n    "a": 1\n}\n'
    assert same_content('{"a":1}', {"a": 1})
    assert not same_content('{"a": 2}', {"a": 1})
    assert same_content("down\n", "down\n")
    assert not same_content("down", "down\n")
    assert render_content(None) == ""


@pytest.mark.parametrize("value, state", [
    (True, ENABLED), (False, DISABLED), (1, ENABLED), (0, DISABLED), (None, DISABLED),
    ("on", ENABLED), ("Enabled", ENABLED), ("false", DISABLED), ("off", DISABLED),
])
def test_status_words(value, state):
    assert truthy_state(value, "enabled") == state


def test_an_unknown_status_word_is_an_error():
    with pytest.raises(DbopsError, match="status maybe is 'maybe', which is neither on nor off"):
        truthy_state("maybe", "status maybe")


def test_replica_counts():
    assert replicas_state("3\n", "out") == (DISABLED, 3)
    assert replicas_state(0, "out") == (ENABLED, 0)
    for bad in ("", "-1", "three", True):
        with pytest.raises(DbopsError, match="not a replica count"):
            replicas_state(bad, "out")


def test_status_by_exit_code_regex_and_replicas():
    assert interpret_status("s", 0, "") == (ENABLED, None)
    assert interpret_status("s", 1, "") == (DISABLED, None)
    with pytest.raises(DbopsError, match="exit code 2"):
        interpret_status("s", 2, "")
    assert interpret_status("s", 0, "Horizon is paused.", regex="paused") == (ENABLED, None)
    assert interpret_status("s", 0, "A=1\nMAINTENANCE_MODE=false\n", regex="^MAINTENANCE_MODE=true$") == (DISABLED, None)
    with pytest.raises(DbopsError, match="failed with exit code 1"):
        interpret_status("s", 1, "", regex="paused")
    assert interpret_status("s", 0, "4", is_replicas=True) == (DISABLED, 4)


def test_dig_follows_dotted_keys():
    doc = {"environments": {"production": {"on": False}}, "items": [{"n": 2}]}
    assert dig(doc, "environments.production.on") is False
    assert dig(doc, "items.0.n") == 2
    with pytest.raises(DbopsError, match="has no environments.staging.on \\(missing 'staging'\\)"):
        dig(doc, "environments.staging.on")


def test_commands_without_and_with_a_shell():
    assert command_args("kubectl set env deploy/api 'A=b c'", False, "x") == ["kubectl", "set", "env", "deploy/api", "A=b c"]
    assert command_args(["php", "artisan", "down", 3], False, "x") == ["php", "artisan", "down", "3"]
    assert command_args("echo 0 > replicas", True, "x") == "echo 0 > replicas"
    assert command_args(["echo", "a b"], True, "x") == "echo 'a b'"
    for bad in ("", [], [["nested"]], {"a": 1}):
        with pytest.raises(DbopsError, match="x "):
            command_args(bad, False, "x")


def test_options_of_other_backends_are_refused_defaults_are_not():
    params = {name: None for name in SPEC}
    params.update(state="enabled", backend="laravel", app_path="/srv/app", use_shell=False, timeout=10,
                  status_is_replicas=False)
    check_backend_options(params, SPEC)
    params.update(url="http://x", use_shell=True)
    with pytest.raises(DbopsError, match="backend laravel does not take url, use_shell"):
        check_backend_options(params, SPEC)
    params.update(backend="command", app_path=None, url=None, status_enabled_regex="x", status_is_replicas=True)
    with pytest.raises(DbopsError, match="not both"):
        check_backend_options(params, SPEC)


def laravel(tmp_path, **options):
    params = dict(app_path=str(tmp_path), response_status=None, retry=None, refresh=None, secret=None,
                  redirect=None, except_paths=None, template=None)
    params.update(options)
    return LaravelBackend(FakeModule(**params))


def test_laravel_needs_a_change_only_when_state_or_payload_differ(tmp_path):
    (tmp_path / "storage" / "framework").mkdir(parents=True)
    backend = laravel(tmp_path, retry=60)
    observed = backend.read()
    assert observed.state == DISABLED and backend.needs_change(observed, ENABLED)
    assert not backend.needs_change(observed, DISABLED)
    backend.apply(ENABLED, observed)
    on_disk = json.loads((tmp_path / "storage" / "framework" / "down").read_text())
    assert on_disk["retry"] == 60 and on_disk["status"] == 503
    observed = backend.read()
    assert observed.state == ENABLED and not backend.needs_change(observed, ENABLED)
    assert laravel(tmp_path, retry=30).needs_change(observed, ENABLED)
    backend.apply(DISABLED, observed)
    assert not (tmp_path / "storage" / "framework" / "down").exists()


def test_laravel_refuses_a_folder_that_is_not_an_app(tmp_path):
    with pytest.raises(DbopsError, match="is not a Laravel application"):
        laravel(tmp_path).read()
