# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Migration files: where they come from, how they are laid out, what they say about themselves.

Layouts (the `layout` option):
  flat             <version>_<name>.up.sql and optional <version>_<name>.down.sql; a dialect file
                   <version>_<name>.<dialect>[.autocommit].(up|down).sql (popx, Ory's convention) replaces
                   the generic one for the engine's dialect; other dialects' files are ignored (and listed);
                   `.autocommit` runs the file outside a transaction.
  sections         <version>_<name>.sql holding `-- migrate:up` and optional `-- migrate:down` sections.
  node_pg_migrate  <timestamp>_<name>.sql split by `-- Up Migration` / `-- Down Migration` comments, matched
                   like node-pg-migrate does; a file without markers is all up.
  directories      <version>_<name>/migration.sql (Prisma's layout), up only.

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

LAYOUTS = ("flat", "sections", "node_pg_migrate", "directories")
MARKERS = ("no-transaction",)
# Dialect words of file names, by engine; the first is the engine's default. Words of no engine here are
# other databases' files (popx ships cockroach and sqlite3 variants), ignored and listed.
DIALECTS = {"postgres": ("postgres", "postgresql", "pg"), "mysql": ("mysql", "mariadb")}
OTHER_DIALECTS = ("cockroach", "cockroachdb", "sqlite", "sqlite3", "mssql", "sqlserver", "oracle", "clickhouse",
                  "spanner")

_FLAT = re.compile(r"^(?P<version>\d+(?:_\d+)*)_(?P<name>[^.]+)(?:\.(?!autocommit\.)(?P<dialect>[A-Za-z][A-Za-z0-9]*))?"
                   r"(?P<autocommit>\.autocommit)?\.(?P<direction>up|down)\.sql$")
_STEM = re.compile(r"^(?P<version>\d+(?:_\d+)*)_(?P<name>[^./]+)$")
_MARKER = re.compile(r"^\s*--\s*dbops:(?P<marker>\S+)\s*$")
_SECTION = re.compile(r"^--\s*migrate:(?P<section>\S+)\s*$", re.MULTILINE)
# node-pg-migrate's markers: a line starting `--`, any dashes and blanks, then `up migration` / `down migration`,
# in any case; the first of each counts, and a section runs from its marker to the other one or the end.
_NODE_PG_MARKER = {direction: re.compile(r"^\s*--[\s-]*%s\s+migration" % direction, re.IGNORECASE | re.MULTILINE)
                   for direction in ("up", "down")}


def migration_files_argument_spec():
    """Where the migrations are and how they are laid out (doc fragment `migration_files`)."""
    return dict(
        migrations_dir=dict(type="path"),
        path=dict(type="path"),
        layout=dict(type="str", default="flat", choices=list(LAYOUTS)),
        remote_src=dict(type="bool", default=False),
        _files=dict(type="dict"),  # set by the action plugin: {relative path: base64 content}
    )


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


class MigrationList(list):
    """Migrations in version order, and the files of other dialects that were left out."""

    ignored = ()


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


def dialect_words(engine, dialect=None):
    """The dialect words whose files are this engine's: the given one, or every alias of the engine."""
    if dialect is None:
        return DIALECTS[engine]
    if dialect not in DIALECTS[engine]:
        raise DbopsError("dialect %s is not a dialect of engine %s; use one of %s"
                         % (dialect, engine, ", ".join(DIALECTS[engine])))
    return (dialect,)


def load_migrations(source, engine, layout="flat", only=None, dialect=None):
    """Every migration of a source in version order; any bad file fails before anything runs.

    `only` limits a directory to one file name (the `path` option); `dialect` names the word of this
    engine's dialect files (flat layout).
    """
    if layout not in LAYOUTS:
        raise DbopsError("layout must be one of %s" % ", ".join(LAYOUTS))
    words = dialect_words(engine, dialect)
    if not source.exists():
        raise DbopsError("migrations_dir %s: no such directory" % source.display())
    migrations = MigrationList()
    if layout == "flat":
        migrations.extend(_flat(source, engine, only, words, migrations))
    else:
        loader = {"sections": _sections, "node_pg_migrate": _node_pg_migrate, "directories": _directories}[layout]
        migrations.extend(loader(source, engine, only))
    migrations.sort(key=lambda m: m.sort_key)
    for before, after in zip(migrations, migrations[1:]):
        if before.sort_key == after.sort_key:
            raise DbopsError("duplicate migration version %s: %s and %s"
                             % (after.version, before.up.display, after.up.display))
    return migrations


def _flat(source, engine, only, words, result):
    """Generic files, replaced by this engine's dialect files; other dialects' files go to result.ignored."""
    known = set(OTHER_DIALECTS).union(*DIALECTS.values())
    found = {}  # (version, name) -> {direction: {"generic" or "dialect": file name}}
    ignored = []
    for file_name in source.listdir():
        if not file_name.endswith(".sql") or (only and not file_name.startswith(only)):
            continue
        match = _FLAT.match(file_name)
        if not match:
            raise DbopsError("%s: not a migration file name; expected <version>_<name>[.<dialect>][.autocommit]"
                             ".(up|down).sql" % source.display(file_name))
        dialect = match.group("dialect")
        if dialect is not None and dialect not in known:
            raise DbopsError("%s: unknown dialect '%s'; known: %s"
                             % (source.display(file_name), dialect, ", ".join(sorted(known))))
        if dialect is not None and dialect not in words:
            ignored.append(file_name)
            continue
        slot = found.setdefault((match.group("version"), match.group("name")), {}).setdefault(match.group("direction"), {})
        kind = "generic" if dialect is None else "dialect"
        if kind in slot:
            raise DbopsError("%s and %s: two %s files of one migration for this engine"
                             % (source.display(slot[kind]), source.display(file_name), match.group("direction")))
        slot[kind] = file_name
    result.ignored = ignored
    migrations = []
    for (version, name), files in found.items():
        pick = {direction: files[direction].get("dialect") or files[direction].get("generic")
                for direction in files}
        if "up" not in pick:
            if any(f.startswith("%s_%s." % (version, name)) and f.endswith(".up.sql") for f in ignored):
                continue  # only other dialects have an up file: not a migration for this engine
            raise DbopsError("%s: down file without an up file" % source.display(pick["down"]))
        up, down = (_flat_script(source, pick[d], engine) if d in pick else None for d in ("up", "down"))
        migrations.append(Migration(version, name, up, down))
    return migrations


def _flat_script(source, file_name, engine):
    script = Script(source.display(file_name), source.read(file_name), engine)
    if ".autocommit." in file_name:
        script.markers.append("no-transaction")
    return script


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


def _node_pg_migrate(source, engine, only):
    migrations = []
    for file_name in source.listdir():
        if not file_name.endswith(".sql") or (only and file_name != only):
            continue
        match = _STEM.match(file_name[: -len(".sql")])
        if not match:
            raise DbopsError("%s: not a migration file name; expected <timestamp>_<name>.sql" % source.display(file_name))
        display = source.display(file_name)
        up_text, down_text = split_node_pg_migrate(display, _decoded(display, source.read(file_name)))
        up = Script(display, up_text.encode("utf-8"), engine)
        down = Script(display + " (Down Migration)", down_text.encode("utf-8"), engine) if down_text is not None else None
        migrations.append(Migration(match.group("version"), match.group("name"), up, down))
    return migrations


def split_node_pg_migrate(display, text):
    """(up SQL, down SQL or None) of a node-pg-migrate SQL file; SQL before the first marker is refused, and
    comments there (with their dbops markers) head both sides."""
    starts = {d: (m.start() if m else None) for d, m in ((d, r.search(text)) for d, r in _NODE_PG_MARKER.items())}
    up, down = starts["up"], starts["down"]
    if up is None and down is not None:
        raise DbopsError("%s: has a '-- Down Migration' marker but no '-- Up Migration' marker" % display)
    if up is None:
        return text, None
    first = min(s for s in (up, down) if s is not None)
    if without_comments(text[:first]).strip():
        raise DbopsError("%s: SQL before the first '-- Up/Down Migration' marker (node-pg-migrate would skip it)"
                         % display)
    # The comments before the first marker (node-pg-migrate skips them) head both sections, so a
    # `-- dbops:no-transaction` there applies to the up and the down side alike.
    head = text[:first]
    up_text = head + text[up: down if down is not None and down > up else len(text)]
    down_text = None if down is None else head + text[down: up if up > down else len(text)]
    return up_text, down_text


def without_comments(text):
    return "\n".join(line for line in text.splitlines() if not line.strip().startswith("--"))


def _decoded(display, raw):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DbopsError("%s: not valid UTF-8 (byte %d)" % (display, e.start))


def _split_sections(display, raw):
    text = _decoded(display, raw)
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
