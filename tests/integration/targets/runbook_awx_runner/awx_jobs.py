"""Launch the runbooks the way AWX launches a job: ansible-runner, one private data directory per job
(inventory/, env/extravars with the job template's extra vars, the survey's answers and the
credentials' secrets, env/settings, env/envvars, env/cmdline), and judge the job from its artifacts
(job_events/*.json, stdout) and from the run report the dbops.runbooks.runbook_report callback wrote.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import sys
import time

import ansible_runner
import ansible_runner.interface
import psycopg
import pymysql
import yaml

PASSWORD = "dbops-local-stack"


def academy_vars(args):
    """What the inventory and the credentials give a communities_schema_v1 job on this stack: its own
    MariaDB database and demo app."""
    return dict(
        db_connection=dict(engine="mysql", login_host="127.0.0.1", login_port=53306, login_user="dbops",
                           login_password=PASSWORD, login_db=args.db, connect_timeout=3),
        academy_api=dict(url=args.app_url, token="academy-local-api-token"),
        academy_ops_api=args.app_url + "/api/v1/ops",
        laravel_app=dict(base_path=args.app_base, down=dict(retry=60, except_paths=["api/v1/communities/categories"])),
    )


def starforge_vars(args):
    """The same for a production_migration job: the stack's StarForge app and its database (the target
    runbook_production_migration starts from an empty schema again), a short monitor window."""
    return dict(starforge_app_dir=os.path.join(args.root, "examples", "starforge"),  # the job's copied inventory is elsewhere
                production_monitor_seconds=4, production_monitor_interval=1, production_monitor_sustain=2,
                production_monitor_traffic=dict(seconds=6, rps=10))


def mysql_tables(args):
    conn = pymysql.connect(host="127.0.0.1", port=53306, user="dbops", password=PASSWORD)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (args.db,))
            return [row[0] for row in cur.fetchall()]
    finally:
        conn.close()


def postgres_tables(args, reset=False):
    with psycopg.connect(host="127.0.0.1", port=55432, user="dbops", password=PASSWORD, dbname="starforge",
                         autocommit=True) as conn:
        if reset:
            conn.execute("SET client_min_messages = warning")
            conn.execute("DROP SCHEMA public CASCADE")
            conn.execute("CREATE SCHEMA public")
        return [row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]


# One entry per runbook: its playbook, inventory, survey, what the stack gives its jobs, its tables,
# the survey's answers and which gates and steps the jobs check.
RUNBOOKS = {
    "communities_schema_v1": dict(
        playbook="dbops.runbooks.communities_schema_v1",
        inventory="inventories/local",
        stack_vars=academy_vars,
        tables=mysql_tables,
        survey="playbooks/awx/surveys/communities_schema_v1.json",
        template_vars="playbooks/awx/surveys/communities_schema_v1.extra_vars.yml",
        # What an operator answers in the survey: the change request, one confirmation (1.5);
        # 7.8 is left unanswered, so it must be recorded as open, never prompted for.
        answers=dict(change_request_id="MIG-CR-884", change_request_approvals=["Compliance", "Product Operations"],
                     runbook_confirm_acknowledged="yes"),
        answered_gate="1.5",
        unanswered_gate="7.8",
        change_request_gate="2.2",
        resume_step="post-migration-verification",
        steps=7,
    ),
    "production_migration": dict(
        playbook="dbops.runbooks.production_migration",
        inventory="inventories/local",
        stack_vars=starforge_vars,
        tables=postgres_tables,
        survey="playbooks/awx/surveys/production_migration.json",
        template_vars="playbooks/awx/surveys/production_migration.extra_vars.yml",
        # The change request with its approvals and two reviews; the staging rehearsal (1.3) is left
        # unanswered: recorded as open, never prompted for.
        answers=dict(change_request_id="SF-CR-2041",
                     change_request_approvals=["Database Team", "Site Reliability Engineering"],
                     change_request_reviews="dba-on-call@starforge.example, backend-lead@starforge.example"),
        answered_gate=None,
        unanswered_gate="1.3",
        change_request_gate="1.1",
        resume_step="preflight",
        steps=9,
    ),
}
# Secrets that must never reach the job's artifacts: the DB password, the API and ops tokens.
SECRETS = (PASSWORD, "academy-local-api-token", "academy-local-ops-token", "starforge-local-ops-token")
# No job may run longer than this: a job waiting on a prompt is killed here and fails the test.
JOB_TIMEOUT = 150


class JobFailed(AssertionError):
    pass


def check(condition, message):
    if not condition:
        raise JobFailed(message)


def tables(args, spec):
    """The runbook's tables, the migration tool's history tables left out."""
    return sorted(name for name in spec["tables"](args) if not name.startswith("dbops_schema_history"))


class Job:
    """One AWX job: its private data directory, launched once, then read from its artifacts."""

    def __init__(self, args, key, name, job_type="run", tags=None, awx=True, terminal=True):
        self.spec = RUNBOOKS[key]
        self.name = name
        self.pdd = os.path.join(args.work, name)
        self.report_dir = os.path.join(self.pdd, "artifacts", name, "runbook_report")
        env = os.path.join(self.pdd, "env")
        os.makedirs(env)
        shutil.copytree(os.path.join(args.root, self.spec["inventory"]), os.path.join(self.pdd, "inventory"))
        survey = json.load(open(os.path.join(args.root, self.spec["survey"])))
        extravars = yaml.safe_load(open(os.path.join(args.root, self.spec["template_vars"])))
        # The survey's defaults, then the operator's answers, as AWX merges them.
        extravars.update((q["variable"], q["default"]) for q in survey["spec"] if q.get("default") not in ("", None))
        extravars.update(self.spec["answers"])
        # What the inventory and the credentials give the job on this stack.
        extravars.update(self.spec["stack_vars"](args))
        extravars.update(
            runbook_backup=dict(method="logical", backup_dir=os.path.join(args.work, "backups"), keep=2),
            # The local inventory turns prompting off; AWX users keep the role's default (prompt).
            runbook_gate_prompt=True,
        )
        if awx:
            extravars.update(awx_job_id=len(os.listdir(args.work)), awx_job_template_name="%s %s" % (key, job_type),
                             awx_job_launch_type="manual", awx_user_name="runner-it")
        self._write(env, "extravars", extravars)
        self._write(env, "settings", dict(job_timeout=JOB_TIMEOUT, suppress_ansible_output=True))
        self._write(env, "envvars", dict(ANSIBLE_CALLBACKS_ENABLED="dbops.runbooks.runbook_report",
                                         DBOPS_RUNBOOK_REPORT_DIR=self.report_dir, ANSIBLE_NOCOLOR="1"))
        if job_type == "check":
            with open(os.path.join(env, "cmdline"), "w") as f:
                f.write("--check")
        self.tags = tags
        # ansible_runner.run (AWX's way) always gives ansible-playbook a pseudo-terminal, where a prompt
        # would wait; run_command in subprocess mode gives it none.
        self.runner_mode = "pexpect" if terminal else "subprocess"

    @staticmethod
    def _write(env, name, data):
        with open(os.path.join(env, name), "w") as f:
            yaml.safe_dump(data, f)

    def launch(self):
        started = time.monotonic()
        if self.runner_mode == "pexpect":
            # As AWX: a playbook run (ansible-runner gives it a pseudo-terminal), job tags as --tags.
            result = ansible_runner.run(private_data_dir=self.pdd, ident=self.name, playbook=self.spec["playbook"],
                                        tags=self.tags, quiet=True)
        else:
            # The same job with no terminal at all: stdin is the caller's (/dev/null).
            args = ["-i", os.path.join(self.pdd, "inventory"), self.spec["playbook"],
                    "-e", "@" + os.path.join(self.pdd, "env", "extravars")] + (["--tags", self.tags] if self.tags else [])
            result = ansible_runner.interface.init_command_config(
                "ansible-playbook", cmdline_args=args, private_data_dir=self.pdd, ident=self.name,
                runner_mode="subprocess", input_fd=sys.stdin, quiet=True)
            result.run()
        self.seconds = time.monotonic() - started
        self.status, self.rc = result.status, result.rc
        self.artifacts = os.path.join(self.pdd, "artifacts", self.name)
        # stdout, and stderr where the job had one apart (subprocess mode).
        self.stdout = "".join(open(os.path.join(self.artifacts, name)).read()
                              for name in ("stdout", "stderr") if os.path.exists(os.path.join(self.artifacts, name)))
        self.events = [json.load(open(path)) for path in sorted(glob.glob(os.path.join(self.artifacts, "job_events", "*.json")))]
        report = os.path.join(self.report_dir, "latest.json")
        self.report = json.load(open(report)) if os.path.exists(report) else None
        print("%s: %s (rc %s) in %.1f s, %d job events" % (self.name, self.status, self.rc, self.seconds, len(self.events)))
        return self

    def expect(self, status="successful"):
        check(self.status == status, "%s: status %s, expected %s\n%s" % (self.name, self.status, status, self.stdout[-3000:]))
        check(any(e.get("event") == "playbook_on_stats" for e in self.events), "%s: no playbook_on_stats job event" % self.name)
        check(self.report is not None, "%s: no run report in %s" % (self.name, self.report_dir))
        self.no_secrets()
        return self

    def no_secrets(self):
        """No secret in any artifact: stdout, job events, fact cache, the report."""
        for folder, _dirs, files in os.walk(self.artifacts):
            for name in files:
                text = open(os.path.join(folder, name), errors="replace").read()
                leaked = [s for s in SECRETS if s in text]
                check(not leaked, "%s: %s in %s" % (self.name, leaked, os.path.relpath(os.path.join(folder, name), self.pdd)))

    def gate(self, line, kind="confirm"):
        gates = [g for s in self.report["steps"] for g in s.get("gates", []) if g.get("line") == line and g.get("kind") == kind]
        check(gates, "%s: no %s gate %s in the report" % (self.name, kind, line))
        return gates[0]

    def ran_steps(self):
        return [s["key"] for s in self.report["steps"] if s["status"] not in ("skipped", "not run")]


def run_jobs(args, key):
    spec = RUNBOOKS[key]
    if spec["tables"] is postgres_tables:
        postgres_tables(args, reset=True)

    # The Check job type: --check on env/cmdline; a rehearsal on an empty database writes nothing.
    check_job = Job(args, key, "%s-check" % key, job_type="check").launch().expect()
    check(check_job.report["mode"] == "check", "check job: report mode %s" % check_job.report["mode"])
    check(tables(args, spec) == [], "check job created tables: %s" % tables(args, spec))
    check(check_job.gate(spec["unanswered_gate"])["status"] == "open", "check job: gate %s not open" % spec["unanswered_gate"])

    # The Run job type, under AWX (awx_job_id set) with a terminal: the confirmation the survey left
    # unanswered is recorded as open and never prompted for; an answered one passes.
    run_job = Job(args, key, "%s-run" % key).launch().expect()
    report = run_job.report
    check(report["mode"] == "run" and report["outcome"] == "ok", "run job: %s %s" % (report["mode"], report["outcome"]))
    check([s["status"] for s in report["steps"]] == ["ok"] * spec["steps"], "run job: steps %s" % [(s["key"], s["status"]) for s in report["steps"]])
    check(tables(args, spec) != [], "run job created no tables")
    if spec["answered_gate"]:
        answered = run_job.gate(spec["answered_gate"])
        check(answered["status"] == "passed", "run job: answered gate %s" % answered)
    unanswered = run_job.gate(spec["unanswered_gate"])
    check(unanswered["status"] == "open" and "not asked (AWX)" in unanswered["detail"], "run job: unanswered gate %s" % unanswered)
    change_request = run_job.gate(spec["change_request_gate"], "change_request")
    check(change_request["status"] == "passed", "run job: change request gate %s" % change_request)

    # Resuming at a step: the job template's job tags (--tags), under AWX.
    resume_job = Job(args, key, "%s-resume" % key, tags=spec["resume_step"]).launch().expect()
    check(resume_job.ran_steps() == [spec["resume_step"]], "resume job ran %s" % resume_job.ran_steps())

    # The same resume with no terminal at all and without awx_job_id: the gate does reach the
    # prompt, which returns at once (stdin is not a terminal), and the gate is recorded as open
    # ("no answer at the prompt", where under AWX it says "not asked (AWX)").
    bare_job = Job(args, key, "%s-no-terminal" % key, tags=spec["resume_step"], awx=False, terminal=False).launch().expect()
    check(bare_job.ran_steps() == [spec["resume_step"]], "no-terminal job ran %s" % bare_job.ran_steps())
    unanswered = bare_job.gate(spec["unanswered_gate"])
    check(unanswered["status"] == "open" and "no answer at the prompt" in unanswered["detail"], "no-terminal job: gate %s" % unanswered)


def main():
    parser = argparse.ArgumentParser()
    for name in ("root", "work", "db", "app-url", "app-base"):
        parser.add_argument("--" + name, required=True)
    parser.add_argument("runbooks", nargs="*", default=sorted(RUNBOOKS))
    args = parser.parse_args()
    try:
        for key in args.runbooks:
            run_jobs(args, key)
    except JobFailed as e:
        print("FAILED: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
