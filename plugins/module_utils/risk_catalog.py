# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The live catalog's say in a risk: table sizes and open transactions raise or lower it, and give
each statement a time estimate.

Sizes: PostgreSQL pg_class.reltuples and relpages (table, TOAST and indexes; catalog columns, so a
locked table does not block the plan), MySQL information_schema.tables
(table_rows and data_length + index_length, both estimates). Transactions: PostgreSQL pg_locks on
the table joined with pg_stat_activity; MySQL performance_schema.metadata_locks when it is on,
otherwise every long InnoDB transaction (it may hold the table's metadata lock).
"""

from __future__ import annotations

from ansible_collections.dbops.runbooks.plugins.module_utils.database import error_text
from ansible_collections.dbops.runbooks.plugins.module_utils.risk import RULES

SMALL_ROWS = 10000          # at or below (and SMALL_BYTES): low
SMALL_BYTES = 64 * 1024 ** 2
BIG_ROWS = 1000000          # at or above (or BIG_BYTES): high
BIG_BYTES = 1024 ** 3
# Bytes per second, conservative for a busy server: a sequential scan, an index build, a rewrite/copy.
RATES = {"scan": 200 * 1024 ** 2, "index": 40 * 1024 ** 2, "rewrite": 25 * 1024 ** 2}


class Catalog:
    """Row estimates, sizes and long transactions of the tables the findings name; one subclass per engine."""

    def __init__(self, conn, long_transaction_seconds=60):
        self.conn = conn
        self.long_seconds = long_transaction_seconds
        self.tables = {}
        self.transactions = {}
        self.notes = []
        self.unread = set()

    def load(self, tables):
        wanted = sorted({t for t in tables if t and t not in self.tables})
        if not wanted:
            return
        for name in wanted:
            self.tables[name] = None
        error = self.conn.engine.driver().Error
        try:
            self.tables.update(self._sizes(wanted))
            for name, holders in self._transactions(wanted).items():
                self.transactions.setdefault(name, []).extend(holders)
        except error as e:  # the plan goes on without the catalog's word on these tables
            self.notes.append("catalog not read for %s: %s" % (", ".join(wanted), error_text(e)))
            self.unread.update(wanted)

    def adjust(self, findings, display):
        """Raise or lower each finding's risk by its table's size; add a finding per long transaction."""
        self.load(f["table"] for f in findings)
        extra = []
        for finding in findings:
            if finding["table"] in self.unread:
                continue
            stats = self.tables.get(finding["table"])
            if stats is None and finding["table"]:  # not there yet: an earlier pending migration creates it, empty
                stats = dict(rows=0, bytes=0)
                finding["detail"] = (finding["detail"] or "") + " (table not in the catalog yet)"
            cost = RULES[finding["rule"]].cost
            if stats is not None:
                finding.update(rows=stats["rows"], bytes=stats["bytes"])
                finding["estimate_seconds"] = round(stats["bytes"] / RATES[cost], 3) if cost in RATES else 0.0
                if cost in RATES and finding["risk"] != "none":
                    finding["risk"] = _by_size(finding["risk"], stats)
            for holder in self.transactions.get(finding["table"], []):
                extra.append(dict(finding, rule="long-transaction", risk="high", lock=finding["lock"],
                                  detail="pid %s in a transaction for %ss (%s)%s, %s must wait for it" % (
                                      holder["pid"], holder["seconds"], holder["state"],
                                      "" if holder.get("certain", True) else " that may hold the table", finding["rule"])))
        findings.extend(extra)

    @staticmethod
    def estimate(findings, statements):
        """Seconds the statements should take: each statement's most expensive finding, summed."""
        per_statement = {}
        for finding in findings:
            if finding.get("estimate_seconds") is not None and finding["statement"] is not None:
                per_statement[finding["statement"]] = max(per_statement.get(finding["statement"], 0.0), finding["estimate_seconds"])
        return round(sum(per_statement.values()), 3)

    def _sizes(self, names):
        """{table: dict(rows=estimate or None, bytes=size)} of the tables that exist."""
        raise NotImplementedError

    def _transactions(self, names):
        """{table: [dict(pid, seconds, state)]} of transactions open longer than long_seconds on them."""
        raise NotImplementedError


class PostgresCatalog(Catalog):
    def _sizes(self, names):
        # Catalog columns only: pg_total_relation_size() would queue behind an ACCESS EXCLUSIVE lock on the table.
        rows = self.conn.query(
            "SELECT c.relname, c.reltuples::bigint, (c.relpages::bigint + COALESCE(t.relpages, 0) + COALESCE((SELECT"
            " SUM(i.relpages) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = c.oid), 0))"
            " * current_setting('block_size')::bigint FROM pg_class c LEFT JOIN pg_class t ON t.oid = c.reltoastrelid"
            " WHERE c.relkind IN ('r', 'p', 'm') AND c.relname = ANY(%s) AND pg_table_is_visible(c.oid)", (names,))
        return _sized(rows)  # reltuples is -1 before the first ANALYZE: rows unknown

    def _transactions(self, names):
        return _by_table(self.conn.query(
            "SELECT DISTINCT c.relname, a.pid, EXTRACT(EPOCH FROM now() - a.xact_start)::int, a.state"
            " FROM pg_locks l JOIN pg_class c ON c.oid = l.relation JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE c.relname = ANY(%s) AND a.pid <> pg_backend_pid()"
            " AND a.xact_start < now() - make_interval(secs => %s)", (names, self.long_seconds)))


class MySQLCatalog(Catalog):
    def _sizes(self, names):
        return _sized(self.conn.query(
            "SELECT table_name, table_rows, COALESCE(data_length, 0) + COALESCE(index_length, 0)"
            " FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name IN (%s)"
            % ", ".join(["%s"] * len(names)), tuple(names)))

    def _transactions(self, names):
        error = self.conn.engine.driver().Error
        if self.conn.query_value("SELECT @@performance_schema"):
            try:
                return _by_table(self.conn.query(
                    "SELECT DISTINCT m.object_name, t.processlist_id, TIMESTAMPDIFF(SECOND, x.trx_started, NOW()),"
                    " x.trx_state FROM performance_schema.metadata_locks m"
                    " JOIN performance_schema.threads t ON t.thread_id = m.owner_thread_id"
                    " JOIN information_schema.innodb_trx x ON x.trx_mysql_thread_id = t.processlist_id"
                    " WHERE m.object_schema = DATABASE() AND m.object_name IN (%s) AND t.processlist_id <> CONNECTION_ID()"
                    " AND x.trx_started < NOW() - INTERVAL %%s SECOND" % ", ".join(["%s"] * len(names)),
                    tuple(names) + (self.long_seconds,)))
            except error:
                pass  # no access to performance_schema: fall back to every long transaction
        try:
            rows = self.conn.query(
                "SELECT trx_mysql_thread_id, TIMESTAMPDIFF(SECOND, trx_started, NOW()), trx_state FROM information_schema.innodb_trx"
                " WHERE trx_started < NOW() - INTERVAL %s SECOND AND trx_mysql_thread_id <> CONNECTION_ID()", (self.long_seconds,))
        except error as e:  # innodb_trx needs PROCESS
            self.notes.append("open transactions not checked: %s" % error_text(e))
            return {}
        holders = [dict(pid=pid, seconds=int(age), state=state, certain=False) for pid, age, state in rows]
        return {name: holders for name in names} if holders else {}


CATALOGS = {"postgres": PostgresCatalog, "mysql": MySQLCatalog}


def catalog_for(conn, long_transaction_seconds=60):
    return CATALOGS[conn.engine.name](conn, long_transaction_seconds)


def _sized(rows):
    return {name: dict(rows=max(int(count), 0) if count is not None and count >= 0 else None, bytes=int(size or 0))
            for name, count, size in rows}


def _by_table(rows):
    found = {}
    for name, pid, age, state in rows:
        found.setdefault(name, []).append(dict(pid=pid, seconds=int(age or 0), state=state))
    return found


def _by_size(risk, stats):
    rows, size = stats["rows"], stats["bytes"]
    if (rows is not None and rows >= BIG_ROWS) or size >= BIG_BYTES:
        return "high"
    if (rows is None or rows <= SMALL_ROWS) and size <= SMALL_BYTES:
        return "low"
    return risk
