# Copyright: dbops.runbooks maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWX objects of a runbook, from its data: the workflow's nodes and the workflow's survey."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

# Gates where the runbook asks a person: each becomes an approval node before its step.
PERSON_GATES = ("confirm", "change_request")
# What a confirm gate counts as confirmed (roles/runbook_gate); the approval node sets it.
CONFIRMED = "yes"


def ordered_steps(runbook):
    """The runbook's step keys in runbook order (by step number)."""
    try:
        return [key for key, _step in sorted(runbook["steps"].items(), key=lambda item: item[1]["number"])]
    except (KeyError, TypeError, AttributeError) as e:
        raise AnsibleFilterError("runbook.steps must map step keys to steps with a number: %s" % e)


def person_gates(runbook_gates, step):
    return [gate for gate in (runbook_gates or {}).get(step) or [] if gate.get("kind") in PERSON_GATES]


def awx_workflow_nodes(runbook, runbook_gates, job_template, organization, approval_timeout=0):
    """Workflow nodes (awx.awx.workflow_job_template workflow_nodes) for a runbook: per step, an
    approval node for each gate that asks a person, then the step's job (the Run template with the
    step key as job tags); a denied or timed-out approval stops the workflow before the step; a
    failed step (its own rescue has rolled it back) goes to one approval node where a person
    confirms the state the run report names."""
    template = dict(name=job_template, type="job_template", organization=dict(name=organization))
    rollback = "rolled-back"
    nodes, previous = [], None

    def chain(node):
        if previous is not None:
            previous.setdefault("related", {}).setdefault("success_nodes", []).append(dict(identifier=node["identifier"]))
        nodes.append(node)
        return node

    for step in ordered_steps(runbook):
        number = runbook["steps"][step]["number"]
        confirmed = {}
        for gate in person_gates(runbook_gates, step):
            previous = chain(dict(
                identifier="approve-%s-%s" % (gate["line"], gate["kind"]),
                unified_job_template=dict(
                    type="workflow_approval", timeout=int(approval_timeout),
                    name="%s %s: %s" % (runbook["key"], gate["line"], gate["text"]),
                    description="Step %s (%s), line %s: approve when done; deny to stop before the step." % (number, step, gate["line"])),
            ))
            if gate["kind"] == "confirm":
                confirmed[gate["variable"]] = CONFIRMED
        step_node = dict(identifier=step, unified_job_template=template, job_tags=step,
                         related=dict(failure_nodes=[dict(identifier=rollback)]))
        if confirmed:
            step_node["extra_data"] = confirmed
        previous = chain(step_node)
    nodes.append(dict(identifier=rollback, unified_job_template=dict(
        type="workflow_approval", timeout=0, name="%s: a step failed and rolled back" % runbook["key"],
        description="The failed step's rescue rolled it back (see the run report for the state it left); approve once checked.")))
    return nodes


def awx_workflow_survey(survey, runbook_gates):
    """The workflow's survey: the job templates' survey without the confirmations, which the
    workflow's approval nodes answer (a workflow survey answer would override them)."""
    confirms = {gate.get("variable") for gates in (runbook_gates or {}).values() for gate in gates or []
                if gate.get("kind") == "confirm"}
    return dict(survey, spec=[question for question in survey["spec"] if question["variable"] not in confirms])


class FilterModule:
    def filters(self):
        return dict(awx_workflow_nodes=awx_workflow_nodes, awx_workflow_survey=awx_workflow_survey)
