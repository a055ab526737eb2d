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
  - The backend is the one options dict given, exactly one of O(laravel), O(file), O(http) and O(command).
    The argument spec refuses a second backend, a missing required option and any option the chosen
    backend does not take (for example O(command.use_shell) inside O(laravel)).
  - O(laravel) writes and removes C(storage/framework/down) under O(laravel.app_path), the JSON file
    C(php artisan down) writes and Laravel's maintenance middleware reads (file driver, the default).
  - O(file) creates and removes a flag file at O(file.path), with optional O(file.content).
  - O(http) calls a toggle endpoint (O(http.url)) and reads the state from O(http.status_url), before and after.
  - O(command) runs O(command.enable_command) or O(command.disable_command) and reads the state with
    O(command.status_command), before and after. This covers C(php artisan down/up),
    C(php artisan horizon:pause/continue), C(kubectl set env), C(kubectl scale) and C(render) scaling.
  - Only reports C(changed) when the state (or the down file's content) changes. After a change the
    state is read again and the task fails if the backend does not report the wanted state.
extends_documentation_fragment:
  - dbops.runbooks.attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads the state and reports what it would do. Writes no file, makes no toggle call and runs
        no command other than O(command.status_command), which must therefore only read.
  diff_mode:
    support: full
    details: Shows the state, and for O(laravel) and O(file) the file content, before and after.
options:
  state:
    description:
      - V(enabled) stops traffic (maintenance on), V(disabled) lets it through again.
      - To restore what was there before, pass the registered RV(previous_state) of the earlier call.
    type: str
    required: true
    choices: [enabled, disabled]
  laravel:
    description:
      - Laravel's own switch, the file C(php artisan down) writes. The keys are C(artisan down)'s options.
      - Mutually exclusive with O(file), O(http) and O(command).
    type: dict
    suboptions:
      app_path:
        description:
          - The Laravel application's base path (where C(artisan) is); the down file is
            C(storage/framework/down) under it, and C(storage/framework) must exist.
        type: path
        required: true
      response_status:
        description: HTTP status Laravel answers with while down (C(artisan down --status)). Defaults to C(503).
        type: int
      retry:
        description: Seconds sent in the C(Retry-After) header (C(artisan down --retry)).
        type: int
      refresh:
        description: Seconds after which browsers reload, sent as the C(Refresh) header (C(artisan down --refresh)).
        type: int
      secret:
        description:
          - Bypass secret (C(artisan down --secret)); visiting C(/<secret>) lets a browser through.
            Never returned; it is masked in RV(content) and RV(previous_content).
        type: str
      redirect:
        description: Path every request is redirected to while down (C(artisan down --redirect)).
        type: str
      except_paths:
        description: Paths (patterns like C(api/health*)) that keep working while down.
        type: list
        elements: str
      template:
        description: Pre-rendered HTML served as the maintenance page (what C(artisan down --render) stores).
        type: str
  file:
    description:
      - A generic flag file; present means enabled.
      - Mutually exclusive with O(laravel), O(http) and O(command).
    type: dict
    suboptions:
      path:
        description: The flag file. Its folder must exist.
        type: path
        required: true
      content:
        description:
          - What the flag file holds. A dict or list is written as JSON and compared by value;
            a string is written as given. Without it an existing file is left as it is and a new one is empty.
        type: raw
  http:
    description:
      - A toggle endpoint (a maintenance API, a flag service, a scaling API) and a status URL read before and after.
      - Mutually exclusive with O(laravel), O(file) and O(command).
    type: dict
    suboptions:
      url:
        description: The toggle endpoint for enabling, and for disabling unless O(http.disable_url) is set.
        type: str
        required: true
      disable_url:
        description: The toggle endpoint for disabling, when it differs from O(http.url).
        type: str
      method:
        description: HTTP method of the toggle call. Defaults to C(POST).
        type: str
        choices: [POST, PUT, PATCH, DELETE]
      headers:
        description: Extra request headers for the toggle and status calls. Put credentials in O(http.token), not here.
        type: dict
      token:
        description: "Sent as C(Authorization: Bearer <token>) on the toggle and status calls."
        type: str
      enable_body:
        description:
          - >-
            The enabling call's body; a dict or list is sent as JSON. Defaults to C({"enabled": true}).
        type: raw
      disable_body:
        description:
          - >-
            The disabling call's body; a dict or list is sent as JSON. Defaults to C({"enabled": false}).
          - For a scaling API, put the registered RV(previous_replicas) here.
        type: raw
      status_url:
        description: Read with C(GET) before and after the toggle; must answer 2xx.
        type: str
        required: true
      status_key:
        description:
          - Dotted path of the state in the JSON status response, for example C(environments.production.on).
            C(true), C(on), C(yes), C(enabled), C(1) mean enabled. Defaults to C(enabled).
        type: str
      status_enabled_regex:
        description:
          - Maintenance is enabled when the status response matches this regular expression (searched per
            line); the response then need not be JSON.
          - Mutually exclusive with O(http.status_is_replicas).
        type: str
      status_is_replicas:
        description:
          - The status (O(http.status_key)) is a replica count; C(0) means enabled. The count is returned as
            RV(previous_replicas) so a rescue can scale back to it.
        type: bool
        default: false
      validate_certs:
        description: Verify TLS certificates.
        type: bool
        default: true
      timeout:
        description: Seconds to wait for each HTTP answer.
        type: int
        default: 10
  command:
    description:
      - Commands that enable and disable maintenance, and one that reads the state before and after.
      - Mutually exclusive with O(laravel), O(file) and O(http).
    type: dict
    suboptions:
      enable_command:
        description:
          - Command that enables maintenance; a list of arguments, or a string split like a shell would
            without running one (unless O(command.use_shell=true)).
        type: raw
        required: true
      disable_command:
        description: Command that disables maintenance; given like O(command.enable_command).
        type: raw
        required: true
      status_command:
        description:
          - Command that reports the state without changing anything; it also runs in check mode.
          - With O(command.status_enabled_regex) the state is enabled when its output matches; with
            O(command.status_is_replicas) its output is a replica count; with neither, exit code 0 means
            enabled and 1 disabled.
        type: raw
        required: true
      status_enabled_regex:
        description:
          - Maintenance is enabled when the output of O(command.status_command) matches this regular
            expression (searched per line).
          - Mutually exclusive with O(command.status_is_replicas).
        type: str
      status_is_replicas:
        description:
          - The output of O(command.status_command) is a replica count; C(0) means enabled. The count is
            returned as RV(previous_replicas) so a rescue can scale back to it.
        type: bool
        default: false
      chdir:
        description: Folder the commands run in (the application's base path for C(artisan)).
        type: path
      use_shell:
        description: Run the commands through C(/bin/sh), for pipes and redirections.
        type: bool
        default: false
notes:
  - The O(laravel) backend writes only C(storage/framework/down). C(artisan down --render) also writes
    C(storage/framework/maintenance.php) to answer before the framework boots; Laravel still honours the
    down file without it. Applications using the cache maintenance driver need the O(command) backend.
  - Keep a backend's options in one inventory variable (for example C(app_maintenance) holding the
    O(laravel) dict) and pass it through C(module_defaults), so tasks only say O(state).
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
    laravel:
      app_path: /srv/academy/current
      retry: 60
      secret: "{{ vault_maintenance_bypass_secret }}"
  register: maintenance

- name: "Rollback: put maintenance mode back the way it was before the step"
  dbops.runbooks.maintenance_mode:
    state: "{{ maintenance.previous_state }}"
    laravel:
      app_path: /srv/academy/current
      retry: 60

- name: "6.1 php artisan down, run by artisan itself (cache maintenance driver)"
  dbops.runbooks.maintenance_mode:
    state: enabled
    command:
      chdir: /srv/academy/current
      enable_command: php artisan down --retry=60
      disable_command: php artisan up
      status_command: >-
        php artisan tinker --execute="echo app()->isDownForMaintenance() ? 'down' : 'up';"
      status_enabled_regex: ^down$

- name: "3.2 Pause Horizon queue communities-backfill"
  dbops.runbooks.maintenance_mode:
    state: enabled
    command:
      chdir: /srv/academy/current
      enable_command: php artisan horizon:pause communities-backfill
      disable_command: php artisan horizon:continue communities-backfill
      status_command: php artisan horizon:status
      status_enabled_regex: paused

- name: Scale the API to zero, remembering the replica count
  dbops.runbooks.maintenance_mode:
    state: enabled
    command:
      enable_command: [kubectl, -n, academy, scale, deployment/api, --replicas=0]
      disable_command: [kubectl, -n, academy, scale, deployment/api, "--replicas={{ api_replicas | default(3) }}"]
      status_command: [kubectl, -n, academy, get, deployment/api, -o, "jsonpath={.spec.replicas}"]
      status_is_replicas: true
  register: api_scaled

- name: Scale the API back to what it was
  dbops.runbooks.maintenance_mode:
    state: disabled
    command:
      enable_command: [kubectl, -n, academy, scale, deployment/api, --replicas=0]
      disable_command: [kubectl, -n, academy, scale, deployment/api, "--replicas={{ api_scaled.previous_replicas }}"]
      status_command: [kubectl, -n, academy, get, deployment/api, -o, "jsonpath={.spec.replicas}"]
      status_is_replicas: true

- name: Set MAINTENANCE_MODE=true on the deployment
  dbops.runbooks.maintenance_mode:
    state: enabled
    command:
      enable_command: kubectl -n academy set env deployment/api MAINTENANCE_MODE=true
      disable_command: kubectl -n academy set env deployment/api MAINTENANCE_MODE=false
      status_command: kubectl -n academy set env deployment/api --list
      status_enabled_regex: ^MAINTENANCE_MODE=true$

- name: Switch maintenance on through the API's toggle endpoint
  dbops.runbooks.maintenance_mode:
    state: enabled
    http:
      url: https://api.academy.example/api/v1/ops/maintenance
      status_url: https://api.academy.example/api/v1/ops/maintenance
      token: "{{ vault_ops_token }}"
      enable_body: {enabled: true, retry: 60}

- name: A generic flag file read by the load balancer
  dbops.runbooks.maintenance_mode:
    state: enabled
    file:
      path: /var/www/maintenance.flag
      content: {reason: communities_schema_v1, until: "{{ window_end }}"}

- name: "Steps: the backend and its options from the inventory, the tasks only say the state"
  module_defaults:
    dbops.runbooks.maintenance_mode: "{{ app_maintenance }}"
  block:
    - name: "6.1 Enable maintenance mode"
      dbops.runbooks.maintenance_mode:
        state: enabled
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
  description: The backend used, the name of the options dict given.
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
  returned: with O(laravel) or O(file)
  type: str
  sample: /srv/academy/current/storage/framework/down
previous_content:
  description: The file's content before the task (parsed JSON when it is JSON), or null when there was no file. The bypass secret is masked.
  returned: with O(laravel) or O(file)
  type: raw
  sample: null
content:
  description: The file's content after the task (in check mode, unchanged). The bypass secret is masked.
  returned: with O(laravel) or O(file)
  type: raw
  sample: {except: [], redirect: null, retry: 60, refresh: null, secret: "********", status: 503, template: null}
previous_status_response:
  description: The status URL's answer before the task (parsed JSON when it is JSON).
  returned: with O(http)
  type: raw
  sample: {enabled: false}
status_response:
  description: The status URL's answer after the task.
  returned: with O(http)
  type: raw
status_code:
  description: HTTP status of the toggle call.
  returned: with O(http), when the toggle was called
  type: int
  sample: 200
response:
  description: Body of the toggle call (parsed JSON when it is JSON).
  returned: with O(http), when the toggle was called
  type: raw
previous_status_output:
  description: Output of O(command.status_command) before the task, stripped.
  returned: with O(command)
  type: str
  sample: "3"
status_output:
  description: Output of O(command.status_command) after the task, stripped.
  returned: with O(command)
  type: str
  sample: "0"
previous_replicas:
  description: The replica count before the task; use it to scale back in a rescue.
  returned: when O(http.status_is_replicas=true) or O(command.status_is_replicas=true)
  type: int
  sample: 3
replicas:
  description: The replica count after the task.
  returned: when O(http.status_is_replicas=true) or O(command.status_is_replicas=true)
  type: int
  sample: 0
cmd:
  description: The enable or disable command that ran.
  returned: with O(command), when a command ran
  type: raw
  sample: [kubectl, -n, academy, scale, deployment/api, --replicas=0]
rc:
  description: Exit code of the command that ran.
  returned: with O(command), when a command ran
  type: int
  sample: 0
stdout:
  description: Output of the command that ran.
  returned: with O(command), when a command ran
  type: str
  sample: deployment.apps/api scaled
stderr:
  description: Error output of the command that ran.
  returned: with O(command), when a command ran
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
from ansible_collections.dbops.runbooks.plugins.module_utils.maintenance import argument_spec, ensure_maintenance


def main():
    module = AnsibleModule(supports_check_mode=True, **argument_spec())
    run_module(module, reported("maintenance_mode", ensure_maintenance))


if __name__ == "__main__":
    main()
