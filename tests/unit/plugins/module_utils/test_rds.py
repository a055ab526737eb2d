# -*- coding: utf-8 -*-
from __future__ import annotations

import datetime

import pytest

from ansible_collections.dbops.runbooks.plugins.module_utils.database import DbopsError
from ansible_collections.dbops.runbooks.plugins.module_utils.rds import (
    GIB, check_region, check_snapshot_id, derive_snapshot_id, endpoint_of, newest_available, storage_headroom,
    wait_until)

UTC = datetime.timezone.utc


def test_derived_snapshot_id_is_a_valid_identifier():
    now = datetime.datetime(2024, 12, 24, 9, 58, 12, tzinfo=UTC)
    assert derive_snapshot_id("communities_data_convergence", now) == "communities-data-convergence-20241224-095812"
    assert derive_snapshot_id("2024 plan__x", now) == "snapshot-2024-plan-x-20241224-095812"
    assert derive_snapshot_id("___", now) == "snapshot-20241224-095812"
    for plan_key in ("communities_data_convergence", "2024 plan__x", "___", "x" * 400):
        check_snapshot_id(derive_snapshot_id(plan_key, now))


@pytest.mark.parametrize("snapshot_id", ["1abc", "a--b", "a-", "a_b", "", "a" * 256])
def test_invalid_snapshot_ids(snapshot_id):
    with pytest.raises(DbopsError, match="not a valid RDS snapshot identifier"):
        check_snapshot_id(snapshot_id)


def test_newest_available_ignores_snapshots_in_progress():
    def snap(name, hour, status="available"):
        return dict(DBSnapshotIdentifier=name, Status=status,
                    SnapshotCreateTime=datetime.datetime(2024, 12, 24, hour, tzinfo=UTC))
    snapshots = [snap("a", 1), snap("c", 9, "creating"), snap("b", 5), dict(DBSnapshotIdentifier="d", Status="creating")]
    assert newest_available(snapshots)["DBSnapshotIdentifier"] == "b"
    assert newest_available([snap("c", 9, "creating")]) is None
    assert newest_available([]) is None


def test_storage_headroom():
    storage = storage_headroom(100, 21 * GIB, 20)
    assert storage["free_pct"] == 21.0 and storage["ok"] and storage["free_gib"] == 21.0
    assert not storage_headroom(100, 19.99 * GIB, 20)["ok"]
    assert storage_headroom(20, 4 * GIB, 20)["ok"]  # exactly at the limit passes
    with pytest.raises(DbopsError, match="allocated storage is unknown"):
        storage_headroom(0, GIB, 20)


def test_unknown_region_fails_and_known_region_passes():
    known = {"us-east-1", "eu-west-1"}
    check_region("eu-west-1", known)
    check_region(None, known)  # left to amazon.aws, which names the missing region
    with pytest.raises(DbopsError, match="^region us-esat-1 is not an AWS region with RDS"):
        check_region("us-esat-1", known)


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_wait_until_honours_the_timeout():
    clock = FakeClock()
    with pytest.raises(DbopsError, match=r"^timed out after 25s waiting for snapshot s \(status now: creating\)$"):
        wait_until(lambda: (False, "creating", None), "snapshot s", 25, delay=10, clock=clock, sleep=clock.sleep)
    assert clock.sleeps == [10, 10, 5]  # never sleeps past the deadline
    assert clock.now == 25


def test_wait_until_returns_when_done_and_stops_on_failure():
    clock = FakeClock()
    states = iter([(False, "creating", None), (True, "available", "snap")])
    assert wait_until(lambda: next(states), "x", 60, clock=clock, sleep=clock.sleep) == "snap"
    with pytest.raises(DbopsError, match="^x ended in status failed$"):
        wait_until(lambda: (False, "failed", None), "x", 60, failed=("failed",), clock=clock, sleep=clock.sleep)


def test_endpoint_of_instance_and_cluster():
    assert endpoint_of(dict(Endpoint=dict(Address="db.example", Port=3306))) == dict(address="db.example", port=3306)
    assert endpoint_of(dict(Endpoint="cluster.example", Port=5432)) == dict(address="cluster.example", port=5432)
