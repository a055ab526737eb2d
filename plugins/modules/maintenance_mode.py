#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: maintenance_mode
short_description: Stop and resume traffic (Laravel down file, flag file, HTTP toggle or commands)
version_added: 0.2.0
description:
  - Puts an application into maintenance mode (O(state=enabled)) or takes it out (O(state=disabled))
    through one of four backends, and reports the state it found before, so a C(rescue) can put
    back exactly what was there (RV(previous_state), and for scaling RV(previous_replicas)).
  - V(laravel) writes and removes C(storage/framework/down) under O(app_path), the JSON file
    C(php artisan down) writes and Laravel's maintenance middleware reads (file driver, the default).
  - V(file) creates and removes a flag file at O(path), with optional O(content).
  - V(http) calls a toggle endpoint (O(url)) and reads the state from O(status_url), before and after.
  - V(command) runs O(enable_command) or O(disable_command) and reads the state with O(status_command),
    before and after. This covers C(php artisan down/up), C(php artisan horizon:pause/continue),
    C(kubectl set env), C(kubectl scale) and C(render) scaling.
  - Only reports C(changed) when the state (or the down file's content) changes. After a change the
    state is read again and the task fails if the backend does not report the wanted state.
  - Options of a backend other than O(backend) are refused rather than ignored.
extends_documentation_fragment:
  - dbops.runbooks.attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads the state and reports what it would do. Writes no file, makes no toggle call and runs
        no command other than O(status_command), which must therefore only read.
  diff_mode:
    support: full
    details: Shows the state, and for V(laravel) and V(file) the file content, before and after.
options:
  state:
    description:
      - V(enabled) stops traffic (maintenance on), V(disabled) lets it through again.
      - To restore what was there before, pass the registered RV(previous_state) of the earlier call.
    type: str
    required: true
    choices: [enabled, disabled]
  backend:
    description: How maintenance mode is switched.
    type: str
    required: true
    choices: [laravel, file, http, command]
  app_path:
    description:
      - V(laravel) backend. The Laravel application's base path (where C(artisan) is); the down file is
        C(storage/framework/down) under it, and C(storage/framework) must exist.
    type: path
  response_status:
    description:
      - V(laravel) backend. HTTP status Laravel answers with while down (C(artisan down --status)). Defaults to C(503).
    type: int
  retry:
    description: V(laravel) backend. Seconds sent in the C(Retry-After) header (C(artisan down --retry)).
    type: int
  refresh:
    description: V(laravel) backend. Seconds after which browsers reload, sent as the C(Refresh) header (C(artisan down --refresh)).
    type: int
  secret:
    description:
      - V(laravel) backend. Bypass secret (C(artisan down --secret)); visiting C(/<secret>) lets a browser
        through. Never returned; it is masked in RV(content) and RV(previous_content).
    type: str
  redirect:
    description: V(laravel) backend. Path every request is redirected to while down (C(artisan down --redirect)).
    type: str
  except_paths:
    description: V(laravel) backend. Paths (patterns like C(api/health*)) that keep working while down.
    type: list
    elements: str
  template:
    description: V(laravel) backend. Pre-rendered HTML served as the maintenance page (what C(artisan down --render) stores).
    type: str
  path:
    description: V(file) backend. The flag file; present means enabled. Its folder must exist.
    type: path
  content:
    description:
      - V(file) backend. What the flag file holds. A dict or list is written as JSON and compared by value;
        a string is written as given. Without it an existing file is left as it is and a new one is empty.
    type: raw
  url:
    description: V(http) backend. The toggle endpoint for enabling, and for disabling unless O(disable_url) is set.
    type: str
  disable_url:
    description: V(http) backend. The toggle endpoint for disabling, when it differs from O(url).
    type: str
  method:
    description: V(http) backend. HTTP method of the toggle call. Defaults to C(POST).
    type: str
    choices: [POST, PUT, PATCH, DELETE]
  headers:
    description: V(http) backend. Extra request headers for the toggle and status calls. Put credentials in O(token), not here.
    type: dict
  token:
    description: "V(http) backend. Sent as C(Authorization: Bearer <token>) on the toggle and status calls."
    type: str
  enable_body:
    description:
      - >-
        V(http) backend. Body of the enabling call; a dict or list is sent as JSON.
        Defaults to C({"enabled": true}).
    type: raw
  disable_body:
    description:
      - >-
        V(http) backend. Body of the disabling call; a dict or list is sent as JSON.
        Defaults to C({"enabled": false}).
      - For a scaling API, put the registered RV(previous_replicas) here.
    type: raw
  status_url:
    description: V(http) backend. Read with C(GET) before and after the toggle; must answer 2xx.
    type: str
  status_key:
    description:
      - V(http) backend. Dotted path of the state in the JSON status response, for example
        C(environments.production.on). C(true), C(on), C(yes), C(enabled), C(1) mean enabled. Defaults to C(enabled).
    type: str
  status_enabled_regex:
    description:
      - V(http) and V(command) backends. Maintenance is enabled when the status response or the
        output of O(status_command) matches this regular expression (searched per line).
      - For V(command) without it (and without O(status_is_replicas)), exit code 0 means enabled and 1 disabled.
    type: str
  status_is_replicas:
    description:
      - V(http) and V(command) backends. The status (O(status_key), or the output of O(status_command))
        is a replica count; C(0) means enabled. The count is returned as RV(previous_replicas) so a
        rescue can scale back to it.
    type: bool
    default: false
  validate_certs:
    description: V(http) backend. Verify TLS certificates.
    type: bool
    default: true
  timeout:
    description: V(http) backend. Seconds to wait for each HTTP answer.
    type: int
    default: 10
  enable_command:
    description:
      - V(command) backend. Command that enables maintenance; a list of arguments, or a string split
        like a shell would without running one (unless O(use_shell=true)).
    type: raw
  disable_command:
    description: V(command) backend. Command that disables maintenance; given like O(enable_command).
    type: raw
  status_command:
    description:
      - V(command) backend. Command that reports the state without changing anything; it also runs in check mode.
      - See O(status_enabled_regex) and O(status_is_replicas) for how its answer is read.
    type: raw
  chdir:
    description: V(command) backend. Folder the commands run in (the application's base path for C(artisan)).
    type: path
  use_shell:
    description: V(command) backend. Run the commands through C(/bin/sh), for pipes and redirections.
    type: bool
    default: false
notes:
  - The V(laravel) backend writes only C(storage/framework/down). C(artisan down --render) also writes
    C(storage/framework/maintenance.php) to answer before the framework boots; Laravel still honours the
    down file without it. Applications using the cache maintenance driver need the V(command) backend.
seealso:
  - name: Laravel maintenance mode
    description: What C(php artisan down) and C(php artisan up) do.
    link: https://laravel.com/docs/configuration#maintenance-mode
author:
  - dbops.runbooks maintainers (@dbops-runbooks)
"""

EXAMPLES = r"""
- name: "6.1 Enable maintenance mode (php artisan down --retry=60)"
  dbops.runbooks.maintenance_mode:
    state: enabled
    backend: laravel
    app_path: /srv/academy/current
    retry: 60
    secret: "{{ vault_maintenance_bypass_secret }}"
  register: maintenance

- name: "Rollback: put maintenance mode back the way it was before the step"
  dbops.runbooks.maintenance_mode:
    state: "{{ maintenance.previous_state }}"
    backend: laravel
    app_path: /srv/academy/current
    retry: 60

- name: "3.2 Pause Horizon queue communities-backfill"
  dbops.runbooks.maintenance_mode:
    state: enabled
    backend: command
    chdir: /srv/academy/current
    enable_command: php artisan horizon:pause communities-backfill
    disable_command: php artisan horizon:continue communities-backfill
    status_command: php artisan horizon:status
    status_enabled_regex: paused

- name: Scale the API to zero, remembering the replica count
  dbops.runbooks.maintenance_mode:
    state: enabled
    backend: command
    enable_command: [kubectl, -n, academy, scale, deployment/api, --replicas=0]
    disable_command: [kubectl, -n, academy, scale, deployment/api, "--replicas={{ api_replicas | default(3) }}"]
    status_command: [kubectl, -n, academy, get, deployment/api, -o, "jsonpath={.spec.replicas}"]
    status_is_replicas: true
  register: api_scaled

- name: Scale the API back to what it was
  dbops.runbooks.maintenance_mode:
    state: disabled
    backend: command
    enable_command: [kubectl, -n, academy, scale, deployment/api, --replicas=0]
    disable_command: [kubectl, -n, academy, scale, deployment/api, "--replicas={{ api_scaled.previous_replicas }}"]
    status_command: [kubectl, -n, academy, get, deployment/api, -o, "jsonpath={.spec.replicas}"]
    status_is_replicas: true

- name: Set MAINTENANCE_MODE=true on the deployment
  dbops.runbooks.maintenance_mode:
    state: enabled
    backend: command
    enable_command: kubectl -n academy set env deployment/api MAINTENANCE_MODE=true
    disable_command: kubectl -n academy set env deployment/api MAINTENANCE_MODE=false
    status_command: kubectl -n academy set env deployment/api --list
    status_enabled_regex: ^MAINTENANCE_MODE=true$

- name: Switch maintenance on through the API's toggle endpoint
  dbops.runbooks.maintenance_mode:
    state: enabled
    backend: http
    url: https://api.academy.example/api/v1/ops/maintenance
    status_url: https://api.academy.example/api/v1/ops/maintenance
    token: "{{ vault_ops_token }}"
    enable_body: {enabled: true, retry: 60}

- name: A generic flag file read by the load balancer
  dbops.runbooks.maintenance_mode:
    state: enabled
    backend: file
    path: /var/www/maintenance.flag
    content: {reason: communities_schema_v1, until: "{{ window_end }}"}
"""

RETURN = r"""
state:
  description: The state asked for (and, unless in check mode, reached).
  returned: always
  type: str
  sample: enabled
previous_state:
  description: The state before the task; pass it as O(state) in a rescue to restore it.
  returned: always
  type: str
  sample: disabled
backend:
  description: The backend used.
  returned: always
  type: str
  sample: laravel
msg:
  description: What was done, in one line.
  returned: always
  type: str
  sample: maintenance mode enabled, was disabled (laravel backend)
file_path:
  description: The file written or removed.
  returned: when O(backend) is V(laravel) or V(file)
  type: str
  sample: /srv/academy/current/storage/framework/down
previous_content:
  description: The file's content before the task (parsed JSON when it is JSON), or null when there was no file. The bypass secret is masked.
  returned: when O(backend) is V(laravel) or V(file)
  type: raw
  sample: null
content:
  description: The file's content after the task (in check mode, unchanged). The bypass secret is masked.
  returned: when O(backend) is V(laravel) or V(file)
  type: raw
  sample: {except: [], redirect: null, retry: 60, refresh: null, secret: "********", status: 503, template: null}
previous_status_response:
  description: The status URL's answer before the task (parsed JSON when it is JSON).
  returned: when O(backend) is V(http)
  type: raw
  sample: {enabled: false}
status_response:
  description: The status URL's answer after the task.
  returned: when O(backend) is V(http)
  type: raw
status_code:
  description: HTTP status of the toggle call.
  returned: when O(backend) is V(http) and the toggle was called
  type: int
  sample: 200
response:
  description: Body of the toggle call (parsed JSON when it is JSON).
  returned: when O(backend) is V(http) and the toggle was called
  type: raw
previous_status_output:
  description: Output of O(status_command) before the task, stripped.
  returned: when O(backend) is V(command)
  type: str
  sample: "3"
status_output:
  description: Output of O(status_command) after the task, stripped.
  returned: when O(backend) is V(command)
  type: str
  sample: "0"
previous_replicas:
  description: The replica count before the task; use it to scale back in a rescue.
  returned: when O(status_is_replicas=true)
  type: int
  sample: 3
replicas:
  description: The replica count after the task.
  returned: when O(status_is_replicas=true)
  type: int
  sample: 0
cmd:
  description: The enable or disable command that ran.
  returned: when O(backend) is V(command) and a command ran
  type: raw
  sample: [kubectl, -n, academy, scale, deployment/api, --replicas=0]
rc:
  description: Exit code of the command that ran.
  returned: when O(backend) is V(command) and a command ran
  type: int
  sample: 0
stdout:
  description: Output of the command that ran.
  returned: when O(backend) is V(command) and a command ran
  type: str
  sample: deployment.apps/api scaled
stderr:
  description: Error output of the command that ran.
  returned: when O(backend) is V(command) and a command ran
  type: str
  sample: ""
dbops_report:
  description:
    - What the run report (callback P(dbops.runbooks.runbook_report#callback)) records of this task, also on failure;
      it holds no argument and no secret.
    - C(kind) (V(maintenance_mode)), C(changed), C(check_mode), C(failed), C(state), C(previous_state),
      C(backend), C(previous_replicas), C(replicas) and C(msg).
  returned: always
  type: dict
  sample: {kind: maintenance_mode, changed: true, check_mode: false, failed: false, state: enabled,
    previous_state: disabled, backend: laravel}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dbops.runbooks.plugins.module_utils.dbops_report import reported
from ansible_collections.dbops.runbooks.plugins.module_utils.edge import run_module
from ansible_collections.dbops.runbooks.plugins.module_utils.maintenance import ensure_maintenance


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", required=True, choices=["enabled", "disabled"]),
            backend=dict(type="str", required=True, choices=["laravel", "file", "http", "command"]),
            app_path=dict(type="path"),
            response_status=dict(type="int"),
            retry=dict(type="int"),
            refresh=dict(type="int"),
            secret=dict(type="str", no_log=True),
            redirect=dict(type="str"),
            except_paths=dict(type="list", elements="str"),
            template=dict(type="str"),
            path=dict(type="path"),
            content=dict(type="raw"),
            url=dict(type="str"),
            disable_url=dict(type="str"),
            method=dict(type="str", choices=["POST", "PUT", "PATCH", "DELETE"]),
            headers=dict(type="dict"),
            token=dict(type="str", no_log=True),
            enable_body=dict(type="raw"),
            disable_body=dict(type="raw"),
            status_url=dict(type="str"),
            status_key=dict(type="str", no_log=False),
            status_enabled_regex=dict(type="str"),
            status_is_replicas=dict(type="bool", default=False),
            validate_certs=dict(type="bool", default=True),
            timeout=dict(type="int", default=10),
            enable_command=dict(type="raw"),
            disable_command=dict(type="raw"),
            status_command=dict(type="raw"),
            chdir=dict(type="path"),
            use_shell=dict(type="bool", default=False),
        ),
        required_if=[
            ("backend", "laravel", ["app_path"]),
            ("backend", "file", ["path"]),
            ("backend", "http", ["url", "status_url"]),
            ("backend", "command", ["enable_command", "disable_command", "status_command"]),
        ],
        supports_check_mode=True,
    )
    run_module(module, reported("maintenance_mode", ensure_maintenance))


if __name__ == "__main__":
    main()
