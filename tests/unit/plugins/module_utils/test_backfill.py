# -*- coding: utf-8 -*-
from __future__ import annotations

import pytest

from ansible_collections.dbops.runbooks.plugins.module_utils import backfill
from ansible_collections.dbops.runbooks.plugins.module_utils.backfill import (
    MySQLDialect, PostgresDialect, Progress, Throttle, default_job, literal, progress_from_checkpoint, with_retries)
from ansible_collections.dbops.runbooks.plugins.module_utils.database import DbopsError
from ansible_collections.dbops.runbooks.plugins.module_utils.online_change import Change, short_name, validate


class FakeClock:
    """Time that moves only when the code sleeps."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class LagSource:
    """A fake replication-lag source: returns the given readings in order, then the last one."""

    def __init__(self, *readings):
        self.readings = list(readings)
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return self.readings.pop(0) if len(self.readings) > 1 else self.readings[0]


def throttle(limits, lag, clock):
    probes = dict(replication_lag=lag, lock_waiters=lambda: 0, active_sessions=lambda: 0)
    return Throttle(limits, probes, interval=1.0, clock=clock, sleep=clock.sleep)


def test_lag_over_the_limit_pauses_until_it_drops():
    clock = FakeClock()
    lag = LagSource(12, 9, 6, 2)
    gate = throttle(dict(max_replication_lag=5), lag, clock)
    assert gate.wait() is True
    assert lag.calls == 4
    assert gate.throttled_seconds == 3.0
    assert gate.last_reason == "replication lag 6 is over 5"


def test_lag_over_the_critical_limit_fails():
    clock = FakeClock()
    gate = throttle(dict(max_replication_lag=5, critical_replication_lag=60), LagSource(8, 75), clock)
    with pytest.raises(DbopsError, match="replication lag 75 is over the critical limit 60"):
        gate.wait()
    assert gate.throttled_seconds == 1.0


def test_throttled_past_the_deadline_returns_false():
    clock = FakeClock()
    gate = throttle(dict(max_replication_lag=5), LagSource(30), clock)
    assert gate.wait(deadline=clock.now + 2.5) is False
    assert gate.throttled_seconds == 3.0


def test_no_limits_probe_nothing():
    clock = FakeClock()
    lag = LagSource(100)
    gate = throttle({"max_lock_waiters": None}, lag, clock)
    assert gate.wait() is True
    assert lag.calls == 0
    assert gate.throttled_seconds == 0


def test_lock_waiters_and_active_sessions_are_limits_too():
    clock = FakeClock()
    waiters = LagSource(4, 0)
    gate = Throttle(dict(max_lock_waiters=2, critical_active_sessions=50),
                    dict(replication_lag=lambda: 0, lock_waiters=waiters, active_sessions=lambda: 10),
                    clock=clock, sleep=clock.sleep)
    assert gate.wait() is True
    assert gate.last_reason == "lock waiters 4 is over 2"


class DriverError(Exception):
    def __init__(self, code):
        super().__init__(code, "error %s" % code)


def test_retryable_errors_are_retried_with_backoff_then_succeed():
    attempts, retried, slept = [], [], []

    def work():
        attempts.append(1)
        if len(attempts) < 3:
            raise DriverError(1205)
        return "done"

    assert with_retries(work, (1205, 1213), 5, retried.append, slept.append) == "done"
    assert len(retried) == 2
    assert 0.1 <= slept[0] <= 0.3 and 0.2 <= slept[1] <= 0.6


def test_other_errors_and_exhausted_retries_raise():
    def deadlock():
        raise DriverError(1213)

    with pytest.raises(DriverError):
        with_retries(deadlock, (1213,), 2, lambda e: None, lambda s: None)

    def syntax():
        raise DriverError(1064)

    calls = []
    with pytest.raises(DriverError):
        with_retries(syntax, (1213,), 2, calls.append, lambda s: None)
    assert calls == []


def test_backoff_is_capped():
    assert all(2.5 <= backfill.backoff(20) <= 7.5 for attempt in range(20))


class Quoting:
    @staticmethod
    def quote_ident(name):
        return '"%s"' % name


class FakeConn:
    engine = Quoting()


def test_postgres_compares_key_tuples():
    dialect = PostgresDialect(FakeConn())
    assert dialect.after(["a", "b"], [1, 2]) == ("(a, b) > (%s, %s)", [1, 2])
    assert dialect.up_to(["a"], [7]) == ("(a) <= (%s)", [7])


def test_mysql_expands_key_tuples_for_the_range_optimizer():
    dialect = MySQLDialect(FakeConn())
    assert dialect.after(["a", "b"], [1, 2]) == ("((a > %s) OR (a = %s AND b > %s))", [1, 1, 2])
    assert dialect.up_to(["a", "b"], [1, 2]) == (
        "((a < %s) OR (a = %s AND b < %s) OR (a = %s AND b = %s))", [1, 1, 2, 1, 2])
    assert dialect.after(["id"], [5]) == ("((id > %s))", [5])


def test_progress_reports_rate_and_eta():
    clock = FakeClock()
    progress = Progress(rows_done=1000, rows_total=5000, batches=1, elapsed_before=1.0, clock=clock)
    clock.sleep(1.0)
    progress.add_batch(1000)
    report = progress.report()
    assert report["rows_done"] == 2000 and report["batches"] == 2
    assert report["rows_per_second"] == 1000.0
    assert report["eta_seconds"] == 3.0
    assert report["percent"] == 40.0
    assert progress.rows_this_run == 1000


def test_progress_from_a_checkpoint_row():
    row = dict(rows_done=300, rows_total=1200, batches=3, elapsed_seconds=3.0, throttled_seconds=0.5)
    report = progress_from_checkpoint(row)
    assert report["rows_per_second"] == 100.0 and report["eta_seconds"] == 9.0 and report["percent"] == 25.0


def test_default_job_names_the_table_and_the_change():
    one = default_job(dict(table="users", set={"email_lower": "lower(email)"}, where="email_lower IS NULL"))
    other = default_job(dict(table="users", set={"email_lower": "lower(email)"}, where="email_lower IS NOT NULL"))
    assert one.startswith("users:") and one != other


def test_user_sql_percent_signs_are_doubled_for_parameter_binding():
    assert literal("name LIKE 'a%'") == "name LIKE 'a%%'"


# --- db_online_change: names and input checks ------------------------------------------------

def online_params(**overrides):
    params = dict(pattern="expand_contract", phase="expand", table="users", old_column="email",
                  new_column="email_norm", new_type="VARCHAR(80)", expression="lower({old})")
    params.update(overrides)
    return params


def test_names_stay_within_63_characters_and_are_stable():
    long_name = short_name("dbops", "t" * 80, "sync")
    assert len(long_name) == 63 and long_name == short_name("dbops", "t" * 80, "sync")
    assert short_name("dbops", "users", "sync") == "dbops_users_sync"


def test_expression_names_the_quoted_old_column():
    change = Change(online_params(), PostgresDialect(FakeConn()).engine)
    assert change.expression_for("NEW.") == 'lower(NEW."email")'
    assert change.expression_for("") == 'lower("email")'


def test_bad_pattern_input_is_one_line():
    with pytest.raises(DbopsError, match="pattern expand_contract needs new_type"):
        validate(online_params(new_type=None))
    with pytest.raises(DbopsError, match="has no phase swap"):
        validate(online_params(phase="swap"))
    with pytest.raises(DbopsError, match=r"expression must name the old column as \{old\}"):
        validate(online_params(expression="lower(email)"))
