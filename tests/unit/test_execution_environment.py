# -*- coding: utf-8 -*-
"""The execution environment (meta/execution-environment.yml) builds a context with ansible-builder,
and its requirements cover every module's dependency: each third-party import of plugins/ is a
distribution in requirements.txt, each client tool the modules run is in bindep.txt."""
from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFINITION = os.path.join(ROOT, "meta", "execution-environment.yml")
# The Debian and RPM packages that carry the client tools (bindep names, per platform).
TOOL_PACKAGES = {
    "pg_dump": {"postgresql-client", "postgresql"}, "pg_restore": {"postgresql-client", "postgresql"},
    "mariadb-dump": {"mariadb-client", "mariadb"}, "mysqldump": {"mariadb-client", "mariadb"},
    "mariadb": {"mariadb-client", "mariadb"}, "mysql": {"mariadb-client", "mariadb"},
}


def normalized(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def required_distributions():
    """Distribution names in requirements.txt (extras and versions dropped)."""
    names = set()
    for line in open(os.path.join(ROOT, "requirements.txt")):
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.add(normalized(re.match(r"[A-Za-z0-9._-]+", line).group(0)))
    return names


def third_party_imports():
    """Top-level names imported anywhere in plugins/ that are neither stdlib nor Ansible."""
    names = set()
    for folder, _dirs, files in os.walk(os.path.join(ROOT, "plugins")):
        for name in files:
            if not name.endswith(".py"):
                continue
            tree = ast.parse(open(os.path.join(folder, name)).read())
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in ("ansible", "ansible_collections")}


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    builder = shutil.which("ansible-builder") or os.path.join(os.path.dirname(sys.executable), "ansible-builder")
    path = tmp_path_factory.mktemp("ee")
    subprocess.run([builder, "create", "-f", DEFINITION, "-c", str(path)], check=True, capture_output=True, text=True)
    return path


def test_builder_creates_a_context_with_the_collections_requirements(context):
    assert (context / "Dockerfile").exists() or (context / "Containerfile").exists()
    assert (context / "_build" / "requirements.txt").read_text() == open(os.path.join(ROOT, "requirements.txt")).read()
    assert (context / "_build" / "bindep.txt").read_text() == open(os.path.join(ROOT, "bindep.txt")).read()
    galaxy = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    wanted = set(yaml.safe_load(open(os.path.join(ROOT, "galaxy.yml")))["dependencies"])
    assert {c["name"] for c in galaxy["collections"]} == wanted


def test_every_imported_library_is_a_requirement():
    provided = importlib.metadata.packages_distributions()
    required = required_distributions()
    imports = third_party_imports()
    assert {"psycopg", "pymysql", "botocore"} <= imports, imports
    for name in sorted(imports):
        distributions = {normalized(d) for d in provided.get(name, [name])}
        assert distributions & required, "plugins/ imports %s (%s), which requirements.txt lacks" % (name, sorted(distributions))


def test_every_client_tool_the_modules_run_is_a_system_requirement():
    from ansible_collections.dbops.runbooks.plugins.module_utils import backup
    tools = {tool for dumps in backup.DUMPS.values() for tool in dumps.dump_tools + dumps.restore_tools}
    packages = {line.split()[0] for line in open(os.path.join(ROOT, "bindep.txt")) if line.strip() and not line.startswith("#")}
    assert tools
    for tool in sorted(tools):
        assert TOOL_PACKAGES[tool] <= packages, "%s needs %s in bindep.txt" % (tool, sorted(TOOL_PACKAGES[tool]))
