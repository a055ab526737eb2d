# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""RDS snapshots for the runbooks: take one, prove one is fresh, measure storage headroom,
restore a snapshot or a point in time, delete a snapshot.

`RdsModule` is amazon.aws's `AnsibleAWSModule` with one error edge; `RdsSnapshots` holds the
logic, raises `DbopsError`, and sends every write call through `write()`, which only records
the call in check mode.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

try:
    import botocore.exceptions
    import botocore.session
except ImportError:
    pass  # AnsibleAWSModule reports the missing library

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
)
from ansible_collections.dbops.runbooks.plugins.module_utils.edge import DbopsError, to_jsonable
from ansible_collections.dbops.runbooks.plugins.module_utils.durations import (
    age_seconds,
    format_duration,
    parse_duration,
    parse_utc_time,
    utc_now,
)

GIB = 1024 ** 3
# FreeStorageSpace is published every minute; a datapoint older than this means the metric is stale.
METRIC_WINDOW_SECONDS = 1800
POLL_SECONDS = 10
AUTH_ERROR_CODES = ("InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch",
                    "AuthFailure", "InvalidAccessKeyId", "ExpiredToken", "ExpiredTokenException")
SNAPSHOT_ID_RE = re.compile(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{0,254}(?<!-)$")


@dataclass(frozen=True)
class RdsKind:
    """What differs between a DB instance and an Aurora cluster, as RDS API names."""

    noun: str
    id_param: str
    describe: str
    listed: str
    not_found: tuple
    status_key: str
    snapshot_id_param: str
    snapshot_arn_key: str
    describe_snapshots: str
    snapshots_listed: str
    snapshot_not_found: tuple
    create_snapshot: str
    snapshot_created: str
    delete_snapshot: str


INSTANCE = RdsKind(
    noun="DB instance", id_param="DBInstanceIdentifier",
    describe="describe_db_instances", listed="DBInstances", not_found=("DBInstanceNotFound", "DBInstanceNotFoundFault"),
    status_key="DBInstanceStatus",
    snapshot_id_param="DBSnapshotIdentifier", snapshot_arn_key="DBSnapshotArn",
    describe_snapshots="describe_db_snapshots", snapshots_listed="DBSnapshots",
    snapshot_not_found=("DBSnapshotNotFound", "DBSnapshotNotFoundFault"),
    create_snapshot="create_db_snapshot", snapshot_created="DBSnapshot", delete_snapshot="delete_db_snapshot",
)
CLUSTER = RdsKind(
    noun="Aurora cluster", id_param="DBClusterIdentifier",
    describe="describe_db_clusters", listed="DBClusters", not_found=("DBClusterNotFoundFault", "DBClusterNotFound"),
    status_key="Status",
    snapshot_id_param="DBClusterSnapshotIdentifier", snapshot_arn_key="DBClusterSnapshotArn",
    describe_snapshots="describe_db_cluster_snapshots", snapshots_listed="DBClusterSnapshots",
    snapshot_not_found=("DBClusterSnapshotNotFoundFault", "DBClusterSnapshotNotFound"),
    create_snapshot="create_db_cluster_snapshot", snapshot_created="DBClusterSnapshot",
    delete_snapshot="delete_db_cluster_snapshot",
)


class RdsModule(AnsibleAWSModule):
    """AnsibleAWSModule with one error edge: a DbopsError or an AWS error becomes one line."""

    def run(self, logic):
        """Call `logic(module)` and report its result; every failure becomes one line."""
        try:
            result = logic(self)
        except DbopsError as e:
            self.fail_json(msg=str(e), **to_jsonable(e.details))
        except botocore.exceptions.NoCredentialsError:
            self.fail_json(msg="no AWS credentials found for region %s: set access_key and secret_key or profile, "
                               "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" % self.region)
        except is_boto3_error_code(AUTH_ERROR_CODES) as e:
            self.fail_json_aws(e, msg="AWS rejected the credentials in region %s" % self.region)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
            self.fail_json_aws(e, msg="RDS request for %s failed in region %s" % (describe_source(self.params), self.region))
        self.exit_json(**to_jsonable(result))


def run_rds_snapshot(module):
    return RdsSnapshots(module).ensure()


def describe_source(params):
    if params.get("db_cluster_identifier"):
        return "%s %s" % (CLUSTER.noun, params["db_cluster_identifier"])
    return "%s %s" % (INSTANCE.noun, params.get("db_instance_identifier"))


def known_regions():
    """Every region botocore knows RDS in, across partitions."""
    session = botocore.session.Session()
    return {region for partition in session.get_available_partitions()
            for region in session.get_available_regions("rds", partition)}


def check_region(region, known):
    """A region the SDK does not know is a typo: fail here instead of with a DNS or parser error."""
    if region and region not in known:
        raise DbopsError("region %s is not an AWS region with RDS (for example us-east-1, eu-west-1); "
                         "check the region option, AWS_REGION or the profile" % region)


def derive_snapshot_id(plan_key, now):
    """`<plan-key>-<UTC yyyymmdd-hhmmss>`, valid as an RDS snapshot identifier."""
    stem = re.sub(r"[^a-z0-9]+", "-", plan_key.lower()).strip("-")
    if not stem or not stem[0].isalpha():
        stem = "snapshot-" + stem if stem else "snapshot"
    return "%s-%s" % (stem[:230].rstrip("-"), now.strftime("%Y%m%d-%H%M%S"))


def check_snapshot_id(snapshot_id):
    if not SNAPSHOT_ID_RE.match(snapshot_id):
        raise DbopsError("snapshot_id %r is not a valid RDS snapshot identifier: start with a letter, then letters, "
                         "digits and single hyphens, at most 255 characters, no trailing hyphen" % snapshot_id)


def newest_available(snapshots):
    """The snapshot with the latest creation time among those with status available, or None."""
    available = [s for s in snapshots if s.get("Status") == "available" and s.get("SnapshotCreateTime")]
    return max(available, key=lambda s: s["SnapshotCreateTime"], default=None)


def storage_headroom(allocated_gib, free_bytes, min_free_pct):
    """Free storage as a percentage of allocated storage, and whether it meets the minimum."""
    if not allocated_gib:
        raise DbopsError("allocated storage is unknown (0 GiB); storage headroom cannot be measured")
    free_pct = round(100.0 * free_bytes / (allocated_gib * GIB), 2)
    return dict(allocated_gib=allocated_gib, free_bytes=int(free_bytes), free_gib=round(free_bytes / GIB, 2),
                free_pct=free_pct, min_free_pct=min_free_pct, ok=free_pct >= min_free_pct)


def wait_until(probe, describe, timeout, failed=(), delay=POLL_SECONDS, clock=time.monotonic, sleep=time.sleep):
    """Poll `probe()` -> (done, status, value) until done, a failed status, or `timeout` seconds."""
    deadline = clock() + timeout
    while True:
        done, status, value = probe()
        if done:
            return value
        if status in failed:
            raise DbopsError("%s ended in status %s" % (describe, status))
        remaining = deadline - clock()
        if remaining <= 0:
            raise DbopsError("timed out after %ds waiting for %s (status now: %s)" % (timeout, describe, status))
        sleep(min(delay, remaining))


@AWSRetry.jittered_backoff()
def all_pages(client, operation, key, **params):
    return client.get_paginator(operation).paginate(**params).build_full_result()[key]


class RdsSnapshots:
    """The logic of rds_snapshot for one instance or cluster."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.check_mode = module.check_mode
        self.kind = CLUSTER if self.params["db_cluster_identifier"] else INSTANCE
        self.source_id = self.params["db_cluster_identifier"] or self.params["db_instance_identifier"]
        self.source = "%s %s" % (self.kind.noun, self.source_id)
        self.region = module.region
        check_region(self.region, known_regions())
        retry = AWSRetry.jittered_backoff(retries=8)
        self.rds = module.client("rds", retry_decorator=retry)
        self.cloudwatch = None
        self.write_calls = []

    # -- the one read path and the one write path --------------------------------------------

    def read(self, operation, **params):
        return getattr(self.rds, operation)(aws_retry=True, **params)

    def write(self, operation, **params):
        """Every write goes here: recorded always, sent only outside check mode."""
        self.write_calls.append(dict(operation=operation, params=params))
        if self.check_mode:
            return None
        return getattr(self.rds, operation)(aws_retry=True, **params)

    # -- lookups -------------------------------------------------------------------------------

    def find(self, kind, identifier):
        try:
            found = self.read(kind.describe, **{kind.id_param: identifier})[kind.listed]
        except is_boto3_error_code(kind.not_found):
            return None
        return found[0] if found else None

    def describe_source(self):
        found = self.find(self.kind, self.source_id)
        if found is None:
            raise DbopsError("%s not found in region %s" % (self.source, self.region))
        return found

    def find_snapshot(self, snapshot_id):
        try:
            found = self.read(self.kind.describe_snapshots, **{self.kind.snapshot_id_param: snapshot_id})
        except is_boto3_error_code(self.kind.snapshot_not_found):
            return None
        listed = found[self.kind.snapshots_listed]
        return listed[0] if listed else None

    def require_snapshot(self, snapshot_id):
        snapshot = self.find_snapshot(snapshot_id)
        if snapshot is None:
            raise DbopsError("snapshot %s (%s) not found in region %s" % (snapshot_id, self.kind.noun, self.region))
        return snapshot

    def snapshots_of_source(self):
        params = {self.kind.id_param: self.source_id}
        if self.params["snapshot_type"] != "any":
            params["SnapshotType"] = self.params["snapshot_type"]
        return all_pages(self.rds, self.kind.describe_snapshots, self.kind.snapshots_listed, **params)

    # -- results -------------------------------------------------------------------------------

    def snapshot_result(self, snapshot):
        if not snapshot:
            return {}
        created = snapshot.get("SnapshotCreateTime")
        return dict(
            snapshot=snake_resource(snapshot),
            snapshot_id=snapshot[self.kind.snapshot_id_param],
            snapshot_arn=snapshot.get(self.kind.snapshot_arn_key),
            snapshot_type=snapshot.get("SnapshotType"),
            status=snapshot.get("Status"),
            create_time=created,
            allocated_storage_gib=snapshot.get("AllocatedStorage"),
            age_seconds=int(round(age_seconds(created))) if created else None,
            age=format_duration(age_seconds(created)) if created else None,
        )

    def base_result(self, changed):
        return dict(changed=changed, region=self.region, source=self.source, write_calls=self.write_calls)

    # -- waiting -------------------------------------------------------------------------------

    def wait_for_snapshot(self, snapshot_id):
        def probe():
            snapshot = self.require_snapshot(snapshot_id)
            return snapshot.get("Status") == "available", snapshot.get("Status"), snapshot
        return wait_until(probe, "snapshot %s to become available" % snapshot_id,
                          self.params["wait_timeout"], failed=("failed", "incompatible-restore"))

    def wait_for_snapshot_gone(self, snapshot_id):
        def probe():
            snapshot = self.find_snapshot(snapshot_id)
            return snapshot is None, snapshot.get("Status") if snapshot else "deleted", None
        wait_until(probe, "snapshot %s to be deleted" % snapshot_id, self.params["wait_timeout"])

    def wait_for_available(self, kind, identifier):
        def probe():
            found = self.find(kind, identifier)
            status = found.get(kind.status_key) if found else "not-found"
            return status == "available", status, found
        return wait_until(probe, "%s %s to become available" % (kind.noun, identifier), self.params["wait_timeout"],
                          failed=("failed", "incompatible-restore", "incompatible-parameters", "inaccessible-encryption-credentials"))

    # -- states --------------------------------------------------------------------------------

    def ensure(self):
        state = self.params["state"]
        if state == "present":
            return self.ensure_present()
        if state == "absent":
            return self.ensure_absent()
        if state == "restored":
            return self.ensure_restored()
        return self.ensure_checked(freshness=state == "fresh")

    def ensure_present(self):
        self.describe_source()
        snapshot_id = self.params["snapshot_id"] or derive_snapshot_id(self.params["plan_key"], utc_now())
        check_snapshot_id(snapshot_id)
        max_age = parse_duration(self.params["max_age"], "max_age") if self.params["max_age"] else None
        snapshot = self.find_snapshot(snapshot_id)
        if snapshot is not None:
            owner = snapshot.get(self.kind.id_param)
            if owner != self.source_id:
                raise DbopsError("snapshot %s already exists and belongs to %s %s, not %s"
                                 % (snapshot_id, self.kind.noun, owner, self.source_id))
            created = snapshot.get("SnapshotCreateTime")
            if max_age and created and age_seconds(created) > max_age:
                raise DbopsError("snapshot %s of %s already exists and is %s old, older than max_age %s; delete it "
                                 "(state=absent) or choose another snapshot_id"
                                 % (snapshot_id, self.source, format_duration(age_seconds(created)), format_duration(max_age)))
            changed = False
        else:
            tags = dict(self.params["tags"] or {})
            if self.params["plan_key"]:
                tags.setdefault("dbops:plan_key", self.params["plan_key"])
            request = {self.kind.snapshot_id_param: snapshot_id, self.kind.id_param: self.source_id}
            if tags:
                request["Tags"] = ansible_dict_to_boto3_tag_list(tags)
            response = self.write(self.kind.create_snapshot, **request)
            snapshot = response[self.kind.snapshot_created] if response else None
            changed = True
        if snapshot is not None and self.params["wait"] and snapshot.get("Status") != "available":
            snapshot = self.wait_for_snapshot(snapshot_id)
        result = self.base_result(changed)
        result.update(self.snapshot_result(snapshot))
        result["snapshot_id"] = snapshot_id
        result["diff"] = dict(before=dict(snapshot=None if changed else snapshot_id), after=dict(snapshot=snapshot_id))
        result["msg"] = ("would create snapshot %s of %s" if self.check_mode and changed
                         else "created snapshot %s of %s" if changed
                         else "snapshot %s of %s already exists") % (snapshot_id, self.source)
        return result

    def ensure_absent(self):
        snapshot_id = self.params["snapshot_id"]
        snapshot = self.find_snapshot(snapshot_id)
        if snapshot is None:
            result = self.base_result(False)
            result.update(snapshot_id=snapshot_id, msg="snapshot %s does not exist" % snapshot_id,
                          diff=dict(before=dict(snapshot=None), after=dict(snapshot=None)))
            return result
        owner = snapshot.get(self.kind.id_param)
        if owner != self.source_id:
            raise DbopsError("snapshot %s belongs to %s %s, not %s; not deleting it"
                             % (snapshot_id, self.kind.noun, owner, self.source_id))
        self.write(self.kind.delete_snapshot, **{self.kind.snapshot_id_param: snapshot_id})
        if self.params["wait"] and not self.check_mode:
            self.wait_for_snapshot_gone(snapshot_id)
        result = self.base_result(True)
        result.update(self.snapshot_result(snapshot))
        result["msg"] = ("would delete" if self.check_mode else "deleted") + " snapshot %s of %s" % (snapshot_id, self.source)
        result["diff"] = dict(before=dict(snapshot=snapshot_id), after=dict(snapshot=None))
        return result

    def ensure_checked(self, freshness):
        """state=fresh (age, plus headroom when min_free_storage_pct is set) or state=headroom."""
        source = self.describe_source()
        result = self.base_result(False)
        failures = []
        if freshness:
            failures += self.check_freshness(result)
        if self.params["min_free_storage_pct"] is not None:
            failures += self.check_headroom(source, result)
        if failures:
            raise DbopsError("; ".join(failures), **{k: v for k, v in result.items() if k != "changed"})
        result["msg"] = "; ".join(result.pop("passed"))
        return result

    def check_freshness(self, result):
        max_age = parse_duration(self.params["max_age"], "max_age")
        kind_text = "" if self.params["snapshot_type"] == "any" else self.params["snapshot_type"] + " "
        newest = newest_available(self.snapshots_of_source())
        result["max_age_seconds"] = max_age
        if newest is None:
            return ["%s has no available %ssnapshot" % (self.source, kind_text)]
        result.update(self.snapshot_result(newest))
        age = age_seconds(newest["SnapshotCreateTime"])
        if age > max_age:
            return ["newest %ssnapshot %s of %s is %s old, older than max_age %s"
                    % (kind_text, result["snapshot_id"], self.source, format_duration(age), format_duration(max_age))]
        result.setdefault("passed", []).append("newest %ssnapshot %s is %s old (max_age %s)"
                                               % (kind_text, result["snapshot_id"], format_duration(age), format_duration(max_age)))
        return []

    def check_headroom(self, source, result):
        if self.kind is CLUSTER:
            raise DbopsError("storage headroom applies to DB instances; Aurora cluster storage grows by itself "
                             "(give db_instance_identifier)")
        minimum = self.params["min_free_storage_pct"]
        free_bytes, measured_at = self.free_storage_bytes()
        storage = storage_headroom(source.get("AllocatedStorage"), free_bytes, minimum)
        storage["measured_at"] = measured_at
        result["storage"] = storage
        line = "%s has %s%% free storage (%s GiB of %s GiB)" % (
            self.source, storage["free_pct"], storage["free_gib"], storage["allocated_gib"])
        if not storage["ok"]:
            return ["%s, below min_free_storage_pct %s%%" % (line, minimum)]
        result.setdefault("passed", []).append("%s, min_free_storage_pct %s%%" % (line, minimum))
        return []

    def free_storage_bytes(self):
        """The latest FreeStorageSpace minimum of the instance from CloudWatch."""
        if self.cloudwatch is None:
            self.cloudwatch = self.module.client("cloudwatch", retry_decorator=AWSRetry.jittered_backoff(retries=8))
        now = utc_now()
        response = self.cloudwatch.get_metric_statistics(
            aws_retry=True, Namespace="AWS/RDS", MetricName="FreeStorageSpace",
            Dimensions=[dict(Name="DBInstanceIdentifier", Value=self.source_id)],
            StartTime=now.timestamp() - METRIC_WINDOW_SECONDS, EndTime=now.timestamp() + 60,
            Period=60, Statistics=["Minimum"])
        points = sorted(response.get("Datapoints", []), key=lambda point: point["Timestamp"])
        if not points:
            raise DbopsError("no CloudWatch FreeStorageSpace datapoint for %s in the last %s; storage headroom "
                             "cannot be measured" % (self.source, format_duration(METRIC_WINDOW_SECONDS)))
        return points[-1]["Minimum"], points[-1]["Timestamp"]

    def ensure_restored(self):
        params = self.params
        target = params["target_identifier"]
        if not (params["snapshot_id"] or params["restore_time"] or params["use_latest_restorable_time"]):
            raise DbopsError("state=restored needs snapshot_id, restore_time or use_latest_restorable_time=true")
        if self.kind is CLUSTER and not params["instance_class"]:
            raise DbopsError("restoring an Aurora cluster needs instance_class for its writer instance")
        if params["snapshot_id"]:
            restored_from = dict(snapshot_id=params["snapshot_id"])
        elif params["restore_time"]:
            restored_from = dict(source=self.source_id, restore_time=parse_utc_time(params["restore_time"], "restore_time"))
        else:
            restored_from = dict(source=self.source_id, restore_time="latest restorable time")
        existing = self.find(self.kind, target)
        changed = existing is None
        if changed:
            self.request_restore(target, restored_from)
        writer = None
        if self.kind is CLUSTER:
            writer = self.find(INSTANCE, target + "-writer")
            if writer is None:
                changed = True
                self.request_writer(target, existing)
        restored = existing
        if not self.check_mode and params["wait"]:
            restored = self.wait_for_available(self.kind, target)
            if self.kind is CLUSTER:
                writer = self.wait_for_available(INSTANCE, target + "-writer")
        elif not self.check_mode:
            restored = self.find(self.kind, target)
        result = self.base_result(changed)
        result.update(target_identifier=target, restored_from=restored_from,
                      diff=dict(before=dict(target=None if existing is None else target), after=dict(target=target)))
        if restored:
            result.update(endpoint=endpoint_of(restored), status=restored.get(self.kind.status_key),
                          restored=snake_resource(restored))
        if writer:
            result["writer_instance"] = snake_resource(writer)
        verb = "would restore" if self.check_mode and changed else "restored" if changed else "already restored"
        origin = ", ".join("%s %s" % item for item in restored_from.items())
        result["msg"] = "%s %s %s from %s" % (verb, self.kind.noun, target, origin)
        return result

    def request_restore(self, target, restored_from):
        params = self.params
        options = {}
        if params["instance_class"] and self.kind is INSTANCE:
            options["DBInstanceClass"] = params["instance_class"]
        if params["db_subnet_group_name"]:
            options["DBSubnetGroupName"] = params["db_subnet_group_name"]
        if params["vpc_security_group_ids"]:
            options["VpcSecurityGroupIds"] = params["vpc_security_group_ids"]
        if params["tags"]:
            options["Tags"] = ansible_dict_to_boto3_tag_list(params["tags"])
        if params["snapshot_id"]:
            snapshot = self.require_snapshot(params["snapshot_id"])
            if self.kind is INSTANCE:
                self.write("restore_db_instance_from_db_snapshot", DBInstanceIdentifier=target,
                           DBSnapshotIdentifier=params["snapshot_id"], **options)
            else:
                self.write("restore_db_cluster_from_snapshot", DBClusterIdentifier=target,
                           SnapshotIdentifier=params["snapshot_id"], Engine=snapshot["Engine"], **options)
            return
        source = self.describe_source()
        when = dict(UseLatestRestorableTime=True)
        if params["restore_time"]:
            moment = restored_from["restore_time"]
            latest = source.get("LatestRestorableTime")
            if latest and moment > latest:
                raise DbopsError("restore_time %s is after the latest restorable time %s of %s"
                                 % (moment.isoformat(), latest.isoformat(), self.source))
            earliest = source.get("EarliestRestorableTime")
            if earliest and moment < earliest:
                raise DbopsError("restore_time %s is before the earliest restorable time %s of %s"
                                 % (moment.isoformat(), earliest.isoformat(), self.source))
            when = dict(RestoreTime=moment) if self.kind is INSTANCE else dict(RestoreToTime=moment)
        if self.kind is INSTANCE:
            self.write("restore_db_instance_to_point_in_time", SourceDBInstanceIdentifier=self.source_id,
                       TargetDBInstanceIdentifier=target, **when, **options)
        else:
            self.write("restore_db_cluster_to_point_in_time", SourceDBClusterIdentifier=self.source_id,
                       DBClusterIdentifier=target, **when, **options)

    def request_writer(self, target, cluster):
        """A restored Aurora cluster has no instances; it needs a writer to answer on its endpoint."""
        engine = (cluster or {}).get("Engine")
        if engine is None:
            if self.params["snapshot_id"]:
                engine = self.require_snapshot(self.params["snapshot_id"])["Engine"]
            else:
                engine = self.describe_source()["Engine"]
        self.write("create_db_instance", DBInstanceIdentifier=target + "-writer", DBClusterIdentifier=target,
                   Engine=engine, DBInstanceClass=self.params["instance_class"])


def snake_resource(resource):
    """An RDS description in snake_case, its tag list as a `tags` dict."""
    described = camel_dict_to_snake_dict({k: v for k, v in resource.items() if k != "TagList"})
    described["tags"] = boto3_tag_list_to_ansible_dict(resource.get("TagList") or [])
    return described


def endpoint_of(resource):
    """Address and port of an instance (Endpoint dict) or a cluster (Endpoint string and Port)."""
    endpoint = resource.get("Endpoint")
    if isinstance(endpoint, dict):
        return dict(address=endpoint.get("Address"), port=endpoint.get("Port"))
    return dict(address=endpoint, port=resource.get("Port"))
