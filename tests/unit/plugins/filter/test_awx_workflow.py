# -*- coding: utf-8 -*-
"""The AWX objects as code agree with the runbooks: the survey asks what the runbooks read, every
confirmation a runbook reads is in the survey with the answers the gate role understands, and the
workflow has one node per step and an approval wherever a runbook asks a person."""
from __future__ import annotations

import json
import os
import re

import pytest
import yaml

from ansible_collections.dbops.runbooks.plugins.filter.awx_workflow import awx_workflow_nodes, awx_workflow_survey
from ansible_collections.dbops.runbooks.plugins.plugin_utils.gates import YES

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
AWX = os.path.join(ROOT, "playbooks", "awx")
AWX_VARS = yaml.safe_load(open(os.path.join(AWX, "vars", "awx.yml")))
RUNBOOKS = AWX_VARS["awx_runbooks"]
QUESTION_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}
PERSON_GATES = ("confirm", "change_request")
# The lines where each runbook asks a person (an approval node in its workflow).
PERSON_LINES = {"communities_schema_v1": {"1.5", "2.2", "7.8"}, "production_migration": {"1.1", "1.3"}}


def read(path):
    with open(os.path.join(AWX, path)) as f:
        return f.read()


def loaded(runbook):
    return (json.loads(read(runbook["survey"])), yaml.safe_load(read(runbook["data"])),
            read(runbook["extra_vars"]), yaml.safe_load(read(runbook["extra_vars"])))


def gates_of(data, kinds):
    return [gate for gates in data["runbook_gates"].values() for gate in gates if gate["kind"] in kinds]


def confirm_gates(data):
    return gates_of(data, ("confirm",))


def confirm_questions(runbook):
    survey, data = loaded(runbook)[:2]
    confirms = {gate["variable"] for gate in confirm_gates(data)}
    return [q for q in survey["spec"] if q["variable"] in confirms]


def runbook_vars_files():
    """playbooks/vars files that define a runbook (its steps and gates), by runbook key."""
    found = {}
    folder = os.path.join(ROOT, "playbooks", "vars")
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name)) as f:
            data = yaml.safe_load(f) or {}
        if "runbook" in data and "runbook_gates" in data:
            found[data["runbook"]["key"]] = os.path.join("..", "vars", name)
    return found


def collection_text():
    """Every playbook and role task file of the collection: where a runbook reads its variables."""
    texts = []
    for top in ("playbooks", "roles"):
        for folder, _dirs, files in os.walk(os.path.join(ROOT, top)):
            if os.path.join("playbooks", "awx") in folder:
                continue
            texts.extend(open(os.path.join(folder, name)).read() for name in files if name.endswith(".yml"))
    return "\n".join(texts)


def accepted_answers():
    """The answers a confirm gate counts as a confirmation (plugins/plugin_utils/gates.py)."""
    return list(YES)


@pytest.mark.parametrize("runbook", RUNBOOKS, ids=lambda r: r["key"])
def test_survey_is_a_valid_awx_survey(runbook):
    survey = loaded(runbook)[0]
    assert survey["name"] and survey["description"]
    variables = [q["variable"] for q in survey["spec"]]
    assert len(variables) == len(set(variables)), variables
    for question in survey["spec"]:
        assert question["question_name"] and question["type"] in QUESTION_TYPES, question
        assert isinstance(question["required"], bool), question
        if question["type"] in ("multiplechoice", "multiselect"):
            assert question["choices"], question
            assert question["default"] == "" or question["default"] in question["choices"], question


@pytest.mark.parametrize("runbook", RUNBOOKS, ids=lambda r: r["key"])
def test_every_survey_variable_is_read_by_the_runbook(runbook):
    survey, data, extra_text, extra_vars = loaded(runbook)
    confirms = {gate["variable"] for gate in confirm_gates(data)}
    text = collection_text()
    for question in survey["spec"]:
        variable = question["variable"]
        # Read by a confirm gate, or turned by the template's extra vars into what the runbook reads.
        assert variable in confirms or re.search(r"\{\{\s*%s\b" % variable, extra_text), variable
    for name in extra_vars:
        assert re.search(r"\b%s\b" % name, text), "the runbook does not read %s" % name


@pytest.mark.parametrize("runbook", RUNBOOKS, ids=lambda r: r["key"])
def test_every_confirmation_is_in_the_survey_with_the_gate_answers(runbook):
    survey, data = loaded(runbook)[:2]
    questions = {q["variable"]: q for q in survey["spec"]}
    accepted = accepted_answers()
    assert confirm_gates(data), "the runbook has no confirm gate"
    for gate in confirm_gates(data):
        question = questions.get(gate["variable"])
        assert question, "%s (line %s) is not in the survey" % (gate["variable"], gate["line"])
        assert question["type"] == "multiplechoice" and question["choices"] == ["yes", "no"], question
        # yes passes the gate, no fails it, unanswered (not required, no default) leaves it open.
        assert "yes" in accepted and "no" not in accepted, accepted
        assert question["required"] is False and question["default"] == "", question


@pytest.mark.parametrize("runbook", RUNBOOKS, ids=lambda r: r["key"])
def test_change_request_fields_match_the_runbook(runbook):
    survey, data, _text, extra_vars = loaded(runbook)
    questions = {q["variable"]: q for q in survey["spec"]}
    # The gate reads id and approvals; every field is built from a survey answer.
    assert {"id", "approvals"} <= set(extra_vars["change_request"])
    for field, value in extra_vars["change_request"].items():
        assert any(re.search(r"\{\{\s*%s\b" % variable, value) for variable in questions), field
    assert questions["change_request_id"]["default"] == data["runbook"]["change_request"]
    approvals = questions["change_request_approvals"]
    assert approvals["type"] == "multiselect"
    assert set(approvals["choices"]) == set(data["runbook"]["approvers"])
    assert set(data["runbook"]["required_approvals"]) <= set(approvals["choices"])


@pytest.mark.parametrize("runbook", RUNBOOKS, ids=lambda r: r["key"])
def test_workflow_has_one_node_per_step_and_approvals_where_a_person_is_asked(runbook):
    data = loaded(runbook)[1]
    nodes = awx_workflow_nodes(data["runbook"], data["runbook_gates"], runbook["key"] + " run", "Default", 3600)
    by_id = {node["identifier"]: node for node in nodes}
    assert len(by_id) == len(nodes), "identifiers are not unique"
    steps = sorted(data["runbook"]["steps"], key=lambda key: data["runbook"]["steps"][key]["number"])
    jobs = [node for node in nodes if node["unified_job_template"]["type"] == "job_template"]
    assert [node["job_tags"] for node in jobs] == steps
    assert all(node["unified_job_template"]["name"] == runbook["key"] + " run" for node in jobs)
    # Every edge leads to a node of the workflow; every step fails over to the rollback node.
    for node in nodes:
        for edges in node.get("related", {}).values():
            assert all(edge["identifier"] in by_id for edge in edges), node
    assert all(node["related"]["failure_nodes"] == [{"identifier": "rolled-back"}] for node in jobs)
    # Each person gate is an approval node whose success leads (through any other approvals) to its step.
    person = [(step, gate) for step, gates in data["runbook_gates"].items() for gate in gates
              if gate["kind"] in PERSON_GATES]
    assert {g["line"] for _s, g in person} == PERSON_LINES[runbook["key"]]
    for step, gate in person:
        node = by_id["approve-%s-%s" % (gate["line"], gate["kind"])]
        assert node["unified_job_template"]["type"] == "workflow_approval"
        assert node["unified_job_template"]["timeout"] == 3600
        following = node
        while following["unified_job_template"]["type"] == "workflow_approval":
            following = by_id[following["related"]["success_nodes"][0]["identifier"]]
        assert following["identifier"] == step
        if gate["kind"] == "confirm":
            assert following["extra_data"][gate["variable"]] == "yes"
    # The chain runs the steps in order: the first node is the first step's first approval or job.
    successors = {edge["identifier"] for node in nodes for edge in node.get("related", {}).get("success_nodes", [])}
    roots = [node["identifier"] for node in nodes if node["identifier"] not in successors and node["identifier"] != "rolled-back"]
    assert len(roots) == 1


@pytest.mark.parametrize("runbook", RUNBOOKS, ids=lambda r: r["key"])
def test_workflow_survey_leaves_the_confirmations_to_the_approval_nodes(runbook):
    survey, data = loaded(runbook)[:2]
    variables = [q["variable"] for q in awx_workflow_survey(survey, data["runbook_gates"])["spec"]]
    assert "change_request_id" in variables
    assert not set(variables) & {gate["variable"] for gate in confirm_gates(data)}


def test_steps_without_numbers_are_one_clear_error():
    from ansible.errors import AnsibleFilterError
    with pytest.raises(AnsibleFilterError, match="runbook.steps must map step keys"):
        awx_workflow_nodes({"key": "x", "steps": {"a": {}}}, {}, "x run", "Default")


def test_every_runbook_has_its_awx_objects():
    files = runbook_vars_files()
    assert sorted(r["key"] for r in RUNBOOKS) == sorted(files) == sorted(PERSON_LINES)
    for runbook in RUNBOOKS:
        assert runbook["data"] == files[runbook["key"]]
        assert os.path.isfile(os.path.join(ROOT, runbook["playbook"])), runbook["playbook"]


def test_confirmations_are_asked_the_same_way_in_every_survey():
    def asked(question):
        return question["type"], question["choices"], question["required"], question["default"]
    questions = [q for runbook in RUNBOOKS for q in confirm_questions(runbook)]
    assert len(questions) >= len(RUNBOOKS)
    assert len({json.dumps(asked(q)) for q in questions}) == 1, [asked(q) for q in questions]
