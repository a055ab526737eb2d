# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Maintenance mode: stop and resume traffic through one of four backends.

Every backend answers the same three questions: what is the state now (`read`), does reaching the
wanted state need a change (`needs_change`), and make the change (`apply`). `ensure_maintenance`
asks them in that order, never calls `apply` in check mode, and reads the state again after a
change so the result is what the backend reports, not what we hoped for.

The state before the call is always returned (`previous_state`, plus the previous file content or
replica count) so a `rescue` can put back exactly what was there.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import tempfile
import urllib.error

from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.urls import ConnectionError as UrlConnectionError, open_url

from ansible_collections.dbops.runbooks.plugins.module_utils.database import DbopsError

ENABLED = "enabled"
DISABLED = "disabled"
MASK = "********"

# The module's options: `state` and one options dict per backend. The argument spec refuses a second
# backend, a missing required option and any option the chosen backend does not take.
STATUS_OPTIONS = dict(
    status_enabled_regex=dict(type="str"),
    status_is_replicas=dict(type="bool", default=False),
)
BACKEND_SPECS = dict(
    laravel=dict(
        app_path=dict(type="path", required=True),
        response_status=dict(type="int"),
        retry=dict(type="int"),
        refresh=dict(type="int"),
        secret=dict(type="str", no_log=True),
        redirect=dict(type="str"),
        except_paths=dict(type="list", elements="str"),
        template=dict(type="str"),
    ),
    file=dict(
        path=dict(type="path", required=True),
        content=dict(type="raw"),
    ),
    http=dict(
        url=dict(type="str", required=True),
        disable_url=dict(type="str"),
        method=dict(type="str", choices=["POST", "PUT", "PATCH", "DELETE"]),
        headers=dict(type="dict"),
        token=dict(type="str", no_log=True),
        enable_body=dict(type="raw"),
        disable_body=dict(type="raw"),
        status_url=dict(type="str", required=True),
        status_key=dict(type="str", no_log=False),
        validate_certs=dict(type="bool", default=True),
        timeout=dict(type="int", default=10),
        **STATUS_OPTIONS
    ),
    command=dict(
        enable_command=dict(type="raw", required=True),
        disable_command=dict(type="raw", required=True),
        status_command=dict(type="raw", required=True),
        chdir=dict(type="path"),
        use_shell=dict(type="bool", default=False),
        **STATUS_OPTIONS
    ),
)


def argument_spec():
    """The module's argument spec and its constraints, as AnsibleModule takes them."""
    spec = dict(state=dict(type="str", required=True, choices=[ENABLED, DISABLED]))
    for name, options in BACKEND_SPECS.items():
        spec[name] = dict(type="dict", options=options)
        if "status_enabled_regex" in options:
            spec[name]["mutually_exclusive"] = [("status_enabled_regex", "status_is_replicas")]
    backends = list(BACKEND_SPECS)
    return dict(argument_spec=spec, mutually_exclusive=[backends], required_one_of=[backends])


# The keys `php artisan down` (Laravel 8 and later) writes to storage/framework/down.
LARAVEL_DOWN_KEYS = ("except", "redirect", "retry", "refresh", "secret", "status", "template")
LARAVEL_DOWN_FILE = os.path.join("storage", "framework", "down")

TRUE_WORDS = ("true", "on", "yes", "enabled", "1")
FALSE_WORDS = ("false", "off", "no", "disabled", "0", "")


class Observed:
    """What a backend saw: the state and whatever else a restore needs (content, replicas, output)."""

    def __init__(self, state, **details):
        self.state = state
        self.details = details

    def view(self):
        return dict(state=self.state, **self.details)


# ---------------------------------------------------------------- pure helpers (unit tested)

def laravel_payload(params):
    """The down-file payload for the laravel backend, in the shape `artisan down` writes."""
    redirect = params.get("redirect")
    if redirect:
        redirect = "/" + redirect.strip("/")
    status = params.get("response_status")
    return {
        "except": list(params.get("except_paths") or []),
        "redirect": redirect or None,
        "retry": params.get("retry"),
        "refresh": params.get("refresh"),
        "secret": params.get("secret"),
        "status": 503 if status is None else status,
        "template": params.get("template"),
    }


def normalize_laravel_payload(payload):
    """A down file as artisan or we wrote it, reduced to comparable values (artisan keeps refresh a string)."""
    if not isinstance(payload, dict):
        return None
    normal = {key: payload.get(key) for key in LARAVEL_DOWN_KEYS}
    normal["except"] = list(normal["except"] or [])
    for key in ("retry", "refresh", "status"):
        value = normal[key]
        if isinstance(value, str) and value.strip().isdigit():
            normal[key] = int(value)
    if normal["status"] is None:
        normal["status"] = 503
    return normal


def mask_secret(payload):
    """A copy of a down-file payload that can be printed: the bypass secret is never returned."""
    if not isinstance(payload, dict) or not payload.get("secret"):
        return payload
    masked = dict(payload)
    masked["secret"] = MASK
    return masked


def render_content(content):
    """File content as text: dicts and lists become JSON, strings are written as given."""
    if content is None:
        return ""
    if isinstance(content, (dict, list)):
        return json.dumps(content, indent=4) + "\n"
    return to_text(content)


def parse_content(text):
    """File content as JSON when it is JSON, else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def same_content(existing_text, wanted):
    """Whether a file already holds `wanted`; JSON is compared by value, not by formatting."""
    if isinstance(wanted, (dict, list)):
        return parse_content(existing_text) == wanted
    return existing_text == render_content(wanted)


def truthy_state(value, source):
    """A status value (bool, number or word) as enabled/disabled."""
    if isinstance(value, bool):
        return ENABLED if value else DISABLED
    if isinstance(value, (int, float)):
        return ENABLED if value else DISABLED
    if value is None:
        return DISABLED
    word = to_text(value).strip().lower()
    if word in TRUE_WORDS:
        return ENABLED
    if word in FALSE_WORDS:
        return DISABLED
    raise DbopsError("%s is %r, which is neither on nor off" % (source, value))


def replicas_state(value, source):
    """A replica count: maintenance is enabled when it is 0."""
    text = to_text(value).strip()
    if isinstance(value, bool) or not re.fullmatch(r"\d+", text):
        raise DbopsError("%s is %r, not a replica count" % (source, value))
    replicas = int(text)
    return (DISABLED if replicas else ENABLED), replicas


def interpret_status(source, rc, output, regex=None, is_replicas=False):
    """The state a status command or response reports.

    With `is_replicas` the output is a replica count (0 means enabled); with `regex` the state is
    enabled when the output matches; otherwise exit code 0 means enabled and 1 disabled.
    Returns `(state, replicas)`; replicas is None unless `is_replicas`.
    """
    if regex or is_replicas:
        if rc != 0:
            raise DbopsError("%s failed with exit code %s" % (source, rc))
        if is_replicas:
            return replicas_state(output, "%s output" % source)
        return (ENABLED if re.search(regex, output, re.MULTILINE) else DISABLED), None
    if rc == 0:
        return ENABLED, None
    if rc == 1:
        return DISABLED, None
    raise DbopsError("%s failed with exit code %s (0 means enabled, 1 disabled)" % (source, rc))


def dig(document, dotted_key):
    """`a.b.c` looked up in nested dicts (and list indexes); raises naming the missing part."""
    value = document
    for part in dotted_key.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise DbopsError("status response has no %s (missing %r)" % (dotted_key, part))
    return value


def command_args(command, use_shell, option):
    """A command option as given to run_command: a list of arguments, or a string for the shell."""
    if isinstance(command, str):
        if not command.strip():
            raise DbopsError("%s is empty" % option)
        return command if use_shell else shlex.split(command)
    if isinstance(command, (list, tuple)) and command and all(isinstance(arg, (str, int, float)) for arg in command):
        args = [to_text(arg) for arg in command]
        return " ".join(shlex.quote(arg) for arg in args) if use_shell else args
    raise DbopsError("%s must be a string or a non-empty list of arguments" % option)


def excerpt(text, limit=300):
    text = " ".join(to_text(text).split())
    return text if len(text) <= limit else text[:limit] + "..."


# ---------------------------------------------------------------- backends

class Backend:
    """One way of switching traffic off and on."""

    name = ""

    def __init__(self, module, options):
        self.module = module
        self.params = options

    def read(self):
        """The state now, as an `Observed`."""
        raise NotImplementedError

    def needs_change(self, observed, state):
        return observed.state != state

    def apply(self, state, observed):
        """Make the change; returns extra result keys (what ran, what it answered)."""
        raise NotImplementedError

    def planned(self, state, observed):
        """The view after a change, for diff mode."""
        return dict(state=state)

    def previous(self, observed):
        """Result keys a rescue needs to restore `observed`."""
        return {}

    def current(self, observed):
        """Result keys that describe the state after the task."""
        return {}


class FileBackend(Backend):
    """A flag file: present means enabled; its content is optional JSON or text."""

    name = "file"

    def target(self):
        return self.params["path"]

    def wanted_content(self):
        return self.params["content"]

    def read(self):
        path = self.target()
        try:
            with open(path, "rb") as handle:
                text = to_text(handle.read(), errors="surrogate_or_replace")
        except FileNotFoundError:
            return Observed(DISABLED, file_path=path, content=None, text=None)
        except OSError as e:
            raise DbopsError("cannot read %s: %s" % (path, e.strerror or e))
        return Observed(ENABLED, file_path=path, content=parse_content(text) if text else None, text=text)

    def needs_change(self, observed, state):
        if observed.state != state:
            return True
        wanted = self.wanted_content()
        return state == ENABLED and wanted is not None and not same_content(observed.details["text"], wanted)

    def apply(self, state, observed):
        path = self.target()
        if state == DISABLED:
            try:
                os.remove(path)
            except FileNotFoundError:
                pass
            except OSError as e:
                raise DbopsError("cannot remove %s: %s" % (path, e.strerror or e))
            return {}
        self._write(path, render_content(self.wanted_content()))
        return {}

    @staticmethod
    def _write(path, text):
        """Write whole or not at all: a reader never sees half a file."""
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise DbopsError("cannot write %s: folder %s does not exist" % (path, folder))
        try:
            fd, tmp = tempfile.mkstemp(prefix=".maintenance-", dir=folder)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except OSError as e:
            raise DbopsError("cannot write %s: %s" % (path, e.strerror or e))

    def shown(self, content):
        return content

    def planned(self, state, observed):
        if state == DISABLED:
            return dict(state=state, file_path=self.target(), content=None)
        wanted = self.wanted_content()
        if wanted is None:
            content = observed.details["content"]
        else:
            content = parse_content(render_content(wanted))
        return dict(state=state, file_path=self.target(), content=self.shown(content))

    def previous(self, observed):
        return dict(file_path=self.target(), previous_content=self.shown(observed.details["content"]))

    def current(self, observed):
        return dict(content=self.shown(observed.details["content"]))


class LaravelBackend(FileBackend):
    """Laravel's own switch: the JSON file `php artisan down` writes to storage/framework/down.

    Laravel's maintenance middleware (file driver, the default) answers every request with the
    file's `status` while the file exists, adding `Retry-After` and `Refresh` headers from `retry`
    and `refresh`, redirecting to `redirect`, letting `except` paths through and letting a browser
    in after it visited `/<secret>`. `php artisan up` deletes the file.
    """

    name = "laravel"

    def target(self):
        return os.path.join(self.params["app_path"], LARAVEL_DOWN_FILE)

    def wanted_content(self):
        return laravel_payload(self.params)

    def needs_change(self, observed, state):
        if observed.state != state:
            return True
        if state == DISABLED:
            return False
        return normalize_laravel_payload(observed.details["content"]) != self.wanted_content()

    def read(self):
        framework = os.path.dirname(self.target())
        if not os.path.isdir(framework):
            raise DbopsError("%s is not a Laravel application: %s does not exist"
                             % (self.params["app_path"], framework))
        return super().read()

    def shown(self, content):
        return mask_secret(content)


class StatusBackend(Backend):
    """A backend that reads its state from a status answer (the detail `status_detail` names) and may report replicas."""

    status_detail = ""

    def previous(self, observed):
        return self._report(observed, "previous_")

    def current(self, observed):
        return self._report(observed, "")

    def _report(self, observed, prefix):
        result = {prefix + self.status_detail: observed.details[self.status_detail]}
        if "replicas" in observed.details:
            result[prefix + "replicas"] = observed.details["replicas"]
        return result


class HttpBackend(StatusBackend):
    """A toggle endpoint (a maintenance API, a flag service, a scaling API) and a status URL."""

    name = "http"
    status_detail = "status_response"

    def _request(self, method, url, body=None):
        headers = dict(self.params["headers"] or {})
        if self.params["token"]:
            headers["Authorization"] = "Bearer %s" % self.params["token"]
        data = None
        if body is not None:
            if isinstance(body, (dict, list)):
                data = json.dumps(body)
                if not any(name.lower() == "content-type" for name in headers):
                    headers["Content-Type"] = "application/json"
            else:
                data = to_text(body)
        # open_url, not fetch_url: fetch_url reads validate_certs from the top-level params, not from `http:`.
        try:
            response = open_url(url, data=data, headers=headers, method=method, timeout=self.params["timeout"],
                                validate_certs=self.params["validate_certs"], http_agent="dbops.runbooks")
            status, raw = response.status, response.read()
        except urllib.error.HTTPError as e:
            # An error answer still has a status and a body worth quoting.
            status, raw = e.code, e.read() if e.fp else b""
        except (urllib.error.URLError, UrlConnectionError, OSError, ValueError) as e:
            raise DbopsError("%s %s: %s" % (method, url, getattr(e, "reason", None) or e))
        text = to_text(raw or b"", errors="surrogate_or_replace")
        return status, text

    def read(self):
        url = self.params["status_url"]
        status, text = self._request("GET", url)
        if not 200 <= status < 300:
            raise DbopsError("GET %s answered %s: %s" % (url, status, excerpt(text)), status=status)
        regex = self.params["status_enabled_regex"]
        if regex:
            state = ENABLED if re.search(regex, text, re.MULTILINE) else DISABLED
            return Observed(state, status_response=parse_content(text))
        try:
            document = json.loads(text)
        except ValueError:
            raise DbopsError("GET %s did not answer JSON (set status_enabled_regex for text): %s" % (url, excerpt(text)))
        key = self.params["status_key"] or "enabled"
        value = dig(document, key)
        if self.params["status_is_replicas"]:
            state, replicas = replicas_state(value, "status %s" % key)
            return Observed(state, status_response=document, replicas=replicas)
        return Observed(truthy_state(value, "status %s" % key), status_response=document)

    def apply(self, state, observed):
        if state == ENABLED:
            url, body = self.params["url"], self.params["enable_body"]
            body = {"enabled": True} if body is None else body
        else:
            url, body = self.params["disable_url"] or self.params["url"], self.params["disable_body"]
            body = {"enabled": False} if body is None else body
        method = self.params["method"] or "POST"
        status, text = self._request(method, url, body)
        if not 200 <= status < 300:
            raise DbopsError("%s %s answered %s: %s" % (method, url, status, excerpt(text)), status=status)
        return dict(status_code=status, response=parse_content(text) if text else None)


class CommandBackend(StatusBackend):
    """Commands: artisan down/up, horizon:pause/continue, kubectl set env / scale, render scale."""

    name = "command"
    status_detail = "status_output"

    def _run(self, option):
        use_shell = bool(self.params["use_shell"])
        args = command_args(self.params[option], use_shell, option)
        chdir = self.params["chdir"]
        if chdir and not os.path.isdir(chdir):
            raise DbopsError("chdir %s: no such directory" % chdir)
        try:
            rc, out, err = self.module.run_command(
                args, cwd=chdir, use_unsafe_shell=use_shell, expand_user_and_vars=False, handle_exceptions=False)
        except OSError as e:
            raise DbopsError("%s %s: %s" % (option, args if use_shell else shlex.join(args), e.strerror or e))
        return args, rc, out, err

    def read(self):
        args, rc, out, err = self._run("status_command")
        try:
            state, replicas = interpret_status(
                "status_command", rc, out, self.params["status_enabled_regex"], self.params["status_is_replicas"])
        except DbopsError as e:
            raise DbopsError("%s; stderr: %s" % (e, excerpt(err) or "(none)"), rc=rc, stdout=out, stderr=err)
        details = dict(status_output=out.strip())
        if replicas is not None:
            details["replicas"] = replicas
        return Observed(state, **details)

    def apply(self, state, observed):
        option = "enable_command" if state == ENABLED else "disable_command"
        args, rc, out, err = self._run(option)
        if rc != 0:
            raise DbopsError("%s failed with exit code %s: %s" % (option, rc, excerpt(err or out) or "(no output)"),
                             cmd=args, rc=rc, stdout=out, stderr=err)
        return dict(cmd=args, rc=rc, stdout=out, stderr=err)


BACKENDS = {backend.name: backend for backend in (LaravelBackend, FileBackend, HttpBackend, CommandBackend)}


def ensure_maintenance(module):
    """Bring the backend to `state`; the module's one verb.

    The argument spec has already made sure exactly one backend's options dict is given and that it
    holds only that backend's options.
    """
    params = module.params
    name = next((name for name in BACKENDS if params.get(name) is not None), None)
    if name is None:
        raise DbopsError("give the options of one backend: %s" % ", ".join(BACKENDS))
    backend = BACKENDS[name](module, params[name])
    state = params["state"]

    before = backend.read()
    change = backend.needs_change(before, state)
    result = dict(changed=change, backend=backend.name, state=state, previous_state=before.state)
    result.update(backend.previous(before))

    if change and not module.check_mode:
        result.update(backend.apply(state, before))
        after = backend.read()
        if backend.needs_change(after, state):
            raise DbopsError("%s backend: asked for %s, but it still reports %s" % (backend.name, state, after.state),
                             previous_state=before.state, **backend.previous(before))
        result.update(backend.current(after))
    else:
        result.update(backend.current(before))

    if module._diff:
        before_view = dict(state=before.state)
        before_view.update({key.replace("previous_", ""): value for key, value in backend.previous(before).items()})
        result["diff"] = dict(before=before_view, after=backend.planned(state, before) if change else before_view)

    if not change:
        result["msg"] = "maintenance mode already %s (%s backend)" % (state, backend.name)
    elif module.check_mode:
        result["msg"] = "would switch maintenance mode from %s to %s (%s backend)" % (before.state, state, backend.name)
    else:
        result["msg"] = "maintenance mode %s, was %s (%s backend)" % (state, before.state, backend.name)
    return result
