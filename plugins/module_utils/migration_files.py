# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Migration files: where they come from, how they are laid out, what they say about themselves.

Layouts (the `layout` option):
  flat         <version>_<name>.up.sql and optional <version>_<name>.down.sql; a dialect file
               <version>_<name>.<postgres|mysql>.up.sql replaces the generic one for that engine.
  sections     <version>_<name>.sql holding `-- migrate:up` and optional `-- migrate:down` sections.
  directories  <version>_<name>/migration.sql (Prisma's layout), up only.

A file may start with marker comments, before its first statement:
  -- dbops:no-transaction   run statement by statement outside a transaction (CREATE INDEX CONCURRENTLY)
Any other `-- dbops:` marker is an error, so a typo cannot silently change how a file runs.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re

from ansible_collections.dbops.runbooks.plugins.module_utils.database import DbopsError
from ansible_collections.dbops.runbooks.plugins.module_utils.statements import SplitError, split_statements

LAYOUTS = ("flat", "sections", "directories")
DIALECTS = ("postgres", "mysql")
MARKERS = ("no-transaction",)

_FLAT = re.compile(r"^(?P<version>\d+(?:_\d+)*)_(?P<name>[^.]+)(?:\.(?P<dialect>postgres|mysql))?\.(?P<direction>up|down)\.sql$")
_STEM = re.compile(r"^(?P<version>\d+(?:_\d+)*)_(?P<name>[^./]+)$")
_MARKER = re.compile(r"^\s*--\s*dbops:(?P<marker>\S+)\s*$")
_SECTION = re.compile(r"^--\s*migrate:(?P<section>\S+)\s*$", re.MULTILINE)


def version_key(version):
    """Versions sort as numbers, digit group by digit group: 0007 < 2024_12_24_000100."""
    return tuple(int(part) for part in version.split("_"))


class DiskSource:
    """Files read on the host that runs the module."""

    def __init__(self, root):
        self.root = root

    def exists(self):
        return os.path.isdir(self.root)

    def listdir(self, relative=""):
        try:
            return sorted(os.listdir(os.path.join(self.root, relative)))
        except OSError as e:
            raise DbopsError("%s: cannot list: %s" % (self.display(relative), e.strerror))

    def isdir(self, relative):
        return os.path.isdir(os.path.join(self.root, relative))

    def isfile(self, relative):
        return os.path.isfile(os.path.join(self.root, relative))

    def read(self, relative):
        try:
            with open(os.path.join(self.root, relative), "rb") as handle:
                return handle.read()
        except OSError as e:
            raise DbopsError("%s: cannot read: %s" % (self.display(relative), e.strerror))

    def display(self, relative=""):
        return os.path.join(self.root, relative) if relative else self.root


class ShippedSource(DiskSource):
    """Files the action plugin read on the controller and shipped as {relative path: base64}."""

    def __init__(self, root, files):
        super().__init__(root)
        self.files = {name: base64.b64decode(data) for name, data in files.items()}
        self.dirs = {os.path.dirname(name) for name in self.files}

    def exists(self):
        return True

    def listdir(self, relative=""):
        prefix = relative + "/" if relative else ""
        names = {name[len(prefix):].split("/", 1)[0] for name in self.files if name.startswith(prefix)}
        return sorted(names)

    def isdir(self, relative):
        return relative in self.dirs

    def isfile(self, relative):
        return relative in self.files

    def read(self, relative):
        return self.files[relative]


class Script:
    """One SQL script (an up or down side of a migration): its text, checksum and markers."""

    def __init__(self, display, raw, engine):
        self.display = display
        self.checksum = hashlib.sha256(raw).hexdigest()
        try:
            self.text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise DbopsError("%s: not valid UTF-8 (byte %d)" % (display, e.start))
        self.markers = self._markers()
        try:
            self.statements = split_statements(self.text, engine)
        except SplitError as e:
            raise DbopsError("%s: %s" % (display, e))

    def _markers(self):
        found = []
        for line in self.text.splitlines():
            if not line.strip():
                continue
            match = _MARKER.match(line)
            if not match:
                if line.lstrip().startswith("--"):
                    continue
                break
            if match.group("marker") not in MARKERS:
                raise DbopsError("%s: unknown marker '-- dbops:%s'; known: %s"
                                 % (self.display, match.group("marker"), ", ".join(MARKERS)))
            found.append(match.group("marker"))
        return found

    @property
    def transactional(self):
        return "no-transaction" not in self.markers


class Migration:
    """A version with its up script and, if there is one, its down script."""

    def __init__(self, version, name, up, down=None):
        self.version = version
        self.name = name
        self.up = up
        self.down = down
        self.sort_key = version_key(version)

    @property
    def checksum(self):
        return self.up.checksum

    def summary(self):
        return dict(version=self.version, name=self.name, file=self.up.display)


def load_migrations(source, engine, layout="flat", only=None):
    """Every migration of a source in version order; any bad file fails before anything runs.

    `only` limits a directory to one file name (the `path` option).
    """
    if layout not in LAYOUTS:
        raise DbopsError("layout must be one of %s" % ", ".join(LAYOUTS))
    if not source.exists():
        raise DbopsError("migrations_dir %s: no such directory" % source.display())
    loader = {"flat": _flat, "sections": _sections, "directories": _directories}[layout]
    migrations = loader(source, engine, only)
    migrations.sort(key=lambda m: m.sort_key)
    for before, after in zip(migrations, migrations[1:]):
        if before.sort_key == after.sort_key:
            raise DbopsError("duplicate migration version %s: %s and %s"
                             % (after.version, before.up.display, after.up.display))
    return migrations


def _flat(source, engine, only):
    found = {}  # (version, name) -> {(direction, dialect): file name}
    for file_name in source.listdir():
        if not file_name.endswith(".sql") or (only and not file_name.startswith(only)):
            continue
        match = _FLAT.match(file_name)
        if not match:
            raise DbopsError("%s: not a migration file name; expected <version>_<name>[.<dialect>].up.sql"
                             % source.display(file_name))
        key = (match.group("version"), match.group("name"))
        found.setdefault(key, {})[(match.group("direction"), match.group("dialect"))] = file_name
    migrations = []
    for (version, name), files in found.items():
        pick = {direction: files.get((direction, engine)) or files.get((direction, None)) for direction in ("up", "down")}
        if pick["up"] is None:
            if any(direction == "up" for direction, dialect in files):
                continue  # only another engine's dialect file: not a migration for this engine
            raise DbopsError("%s: down file without an up file" % source.display(next(iter(files.values()))))
        up = Script(source.display(pick["up"]), source.read(pick["up"]), engine)
        down = Script(source.display(pick["down"]), source.read(pick["down"]), engine) if pick["down"] else None
        migrations.append(Migration(version, name, up, down))
    return migrations


def _sections(source, engine, only):
    migrations = []
    for file_name in source.listdir():
        if not file_name.endswith(".sql") or (only and file_name != only):
            continue
        match = _STEM.match(file_name[: -len(".sql")])
        if not match:
            raise DbopsError("%s: not a migration file name; expected <version>_<name>.sql" % source.display(file_name))
        display = source.display(file_name)
        up_raw, down_raw = _split_sections(display, source.read(file_name))
        up = Script(display + " (migrate:up)", up_raw, engine)
        up.display = display
        down = Script(display + " (migrate:down)", down_raw, engine) if down_raw is not None else None
        migrations.append(Migration(match.group("version"), match.group("name"), up, down))
    return migrations


def _split_sections(display, raw):
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DbopsError("%s: not valid UTF-8 (byte %d)" % (display, e.start))
    marks = list(_SECTION.finditer(text))
    names = [m.group("section") for m in marks]
    unknown = [n for n in names if n not in ("up", "down")]
    if unknown or names.count("up") != 1 or names.count("down") > 1:
        raise DbopsError("%s: needs one '-- migrate:up' section and at most one '-- migrate:down' section" % display)
    bodies = {m.group("section"): text[m.end(): marks[i + 1].start() if i + 1 < len(marks) else len(text)]
              for i, m in enumerate(marks)}
    down = bodies.get("down")
    return bodies["up"].encode("utf-8"), down.encode("utf-8") if down is not None else None


def _directories(source, engine, only):
    migrations = []
    for entry in source.listdir():
        if not source.isdir(entry) or (only and entry != only):
            continue
        match = _STEM.match(entry)
        relative = entry + "/migration.sql"
        if not match or not source.isfile(relative):
            raise DbopsError("%s: expected a <version>_<name> directory holding migration.sql" % source.display(entry))
        migrations.append(Migration(match.group("version"), match.group("name"),
                                    Script(source.display(relative), source.read(relative), engine)))
    return migrations


def split_path(path, layout):
    """(directory, name filter) for the `path` option: one migration of a directory."""
    path = path.rstrip("/")
    if layout == "directories":
        if os.path.basename(path) == "migration.sql":
            path = os.path.dirname(path)
        return os.path.dirname(path), os.path.basename(path)
    base = os.path.basename(path)
    if layout == "flat":
        match = _FLAT.match(base)
        if not match or match.group("direction") != "up":
            raise DbopsError("path %s: give the .up.sql file of the migration" % path)
        return os.path.dirname(path), "%s_%s." % (match.group("version"), match.group("name"))
    return os.path.dirname(path), base
