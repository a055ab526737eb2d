# -*- coding: utf-8 -*-
from __future__ import annotations

import json

import pytest

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.dbops.runbooks.plugins.module_utils.database import DbopsError
from ansible_collections.dbops.runbooks.plugins.module_utils.maintenance import (
    DISABLED, ENABLED, LaravelBackend, argument_spec, command_args, dig, ensure_maintenance, interpret_status,
    laravel_payload, mask_secret, normalize_laravel_payload, render_content, replicas_state, same_content,
    truthy_state)


class FakeModule:
    """Only what ensure_maintenance and the file backends read (no AnsibleModule needed for file logic)."""

    def __init__(self, check_mode=False, diff=False, **params):
        self.params = params
        self.check_mode = check_mode
        self._diff = diff


def validate(params):
    """The module's parameters as its argument spec leaves them, and the spec's errors."""
    spec = argument_spec()
    validator = ArgumentSpecValidator(spec["argument_spec"], mutually_exclusive=spec["mutually_exclusive"],
                                      required_one_of=spec["required_one_of"])
    result = validator.validate(params)
    return result.validated_parameters, [str(error) for error in result.errors]


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


COMMANDS = dict(enable_command="true", disable_command="true", status_command="true")


@pytest.mark.parametrize("params, error", [
    (dict(laravel=dict(app_path="/srv/app", use_shell=True)), "laravel.use_shell"),
    (dict(laravel=dict(app_path="/srv/app"), file=dict(path="/x")), "mutually exclusive: laravel|file|http|command"),
    (dict(), "one of the following is required: laravel, file, http, command"),
    (dict(laravel=dict(retry=60)), "missing required arguments: app_path found in laravel"),
    (dict(http=dict(url="http://x")), "missing required arguments: status_url found in http"),
    (dict(command=dict(COMMANDS, status_enabled_regex="x", status_is_replicas=True)),
     "mutually exclusive: status_enabled_regex|status_is_replicas found in command"),
])
def test_the_argument_spec_refuses_what_the_backend_does_not_take(params, error):
    errors = validate(dict(state="enabled", **params))[1]
    assert len(errors) == 1 and error in errors[0], errors


def test_the_argument_spec_fills_only_the_chosen_backends_defaults():
    params, errors = validate(dict(state="enabled", command=dict(COMMANDS, status_enabled_regex="paused")))
    assert not errors
    assert params["command"]["use_shell"] is False and params["command"]["status_is_replicas"] is False
    assert params["laravel"] is None and params["http"] is None


def test_ensure_maintenance_uses_the_backend_given(tmp_path):
    flag = tmp_path / "flag"
    params = dict(state=ENABLED, laravel=None, file=dict(path=str(flag), content={"why": "v1"}), http=None, command=None)
    result = ensure_maintenance(FakeModule(check_mode=True, diff=True, **params))
    assert result["changed"] and result["backend"] == "file" and not flag.exists()
    assert result["diff"]["after"]["content"] == {"why": "v1"}
    result = ensure_maintenance(FakeModule(**params))
    assert result["msg"] == "maintenance mode enabled, was disabled (file backend)"
    assert json.loads(flag.read_text()) == {"why": "v1"}
    assert not ensure_maintenance(FakeModule(**params))["changed"]


def test_ensure_maintenance_needs_one_backend():
    with pytest.raises(DbopsError, match="give the options of one backend: laravel, file, http, command"):
        ensure_maintenance(FakeModule(state=ENABLED, laravel=None, file=None, http=None, command=None))


def laravel(tmp_path, **options):
    params = dict(app_path=str(tmp_path), response_status=None, retry=None, refresh=None, secret=None,
                  redirect=None, except_paths=None, template=None)
    params.update(options)
    return LaravelBackend(FakeModule(), params)


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
