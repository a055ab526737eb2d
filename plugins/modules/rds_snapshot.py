#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: rds_snapshot
short_description: Take, check, restore and delete RDS snapshots for a runbook
version_added: 0.2.0
description:
  - Works on one RDS DB instance (O(db_instance_identifier)) or one Aurora cluster (O(db_cluster_identifier)).
  - O(state=present) takes a manual snapshot, named O(snapshot_id) or derived from O(plan_key) and the UTC time,
    and waits until it is available. An existing snapshot with that name is reported unchanged.
  - O(state=fresh) fails unless the newest available snapshot is younger than O(max_age); it returns which
    snapshot that is and its age. With O(min_free_storage_pct) it also checks storage headroom in the same call.
  - O(state=headroom) fails unless the instance's free storage (the latest CloudWatch C(FreeStorageSpace) minimum
    over its allocated storage) is at least O(min_free_storage_pct) percent.
  - O(state=restored) restores O(snapshot_id), or the source at O(restore_time) or its latest restorable time,
    to a new instance or cluster O(target_identifier), waits, and returns its endpoint. An existing target is
    reported unchanged.
  - O(state=absent) deletes the manual snapshot O(snapshot_id).
  - In check mode no write call is made; the result says what would be created, restored or deleted
    (RV(write_calls)).
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - dbops.runbooks.attributes
attributes:
  check_mode:
    support: full
    details: Reads only; every write call is listed in RV(write_calls) instead of being made.
  diff_mode:
    support: partial
    details: Shows the snapshot or restored target before and after.
options:
  state:
    description:
      - What to make true. See the description for each value.
      - V(fresh) and V(headroom) only read and never report C(changed).
    type: str
    default: present
    choices: [present, absent, fresh, headroom, restored]
  db_instance_identifier:
    description:
      - The DB instance the snapshots belong to, or the source of a point-in-time restore.
      - Exactly one of O(db_instance_identifier) and O(db_cluster_identifier) is required.
    type: str
    aliases: [instance_id]
  db_cluster_identifier:
    description:
      - The Aurora cluster the cluster snapshots belong to, or the source of a point-in-time restore.
    type: str
    aliases: [cluster_id]
  snapshot_id:
    description:
      - Name of the snapshot to take (V(present)), restore from (V(restored)) or delete (V(absent)).
      - Letters, digits and single hyphens, starting with a letter.
    type: str
    aliases: [db_snapshot_identifier]
  plan_key:
    description:
      - With O(state=present) and no O(snapshot_id), the snapshot is named C(<plan-key>-<yyyymmdd-hhmmss>) in UTC,
        so every run takes a new one. Also recorded as the tag C(dbops:plan_key).
    type: str
  tags:
    description:
      - Tags for a new snapshot or restored target. Existing snapshots are not retagged.
    type: dict
    aliases: [resource_tags]
  max_age:
    description:
      - Required with O(state=fresh) - the newest snapshot must be younger than this.
      - With O(state=present), an existing snapshot named O(snapshot_id) older than this fails the task instead of
        being trusted as the restore point.
      - Seconds, or units V(d), V(h), V(m), V(s) such as V(4h), V(90m), V(1d12h).
    type: str
  snapshot_type:
    description:
      - Which snapshots count for O(state=fresh).
    type: str
    default: any
    choices: [any, automated, manual]
  min_free_storage_pct:
    description:
      - Minimum free storage, in percent of the allocated storage. Required with O(state=headroom).
      - Applies to DB instances; Aurora storage grows by itself.
    type: float
  target_identifier:
    description:
      - Identifier of the new DB instance or Aurora cluster that O(state=restored) creates.
      - For a cluster, a writer instance C(<target_identifier>-writer) is created too.
    type: str
  restore_time:
    description:
      - With O(state=restored), restore the source to this UTC time (ISO 8601, for example V(2024-12-24T10:15:00Z)).
      - Must lie between the source's earliest and latest restorable times.
    type: str
  use_latest_restorable_time:
    description:
      - With O(state=restored), restore the source to its latest restorable time.
    type: bool
    default: false
  instance_class:
    description:
      - Instance class of the restored instance, or of the writer of a restored cluster (required for a cluster).
      - Without it an instance restore keeps the snapshot's class.
    type: str
  db_subnet_group_name:
    description:
      - DB subnet group of the restored instance or cluster.
    type: str
  vpc_security_group_ids:
    description:
      - VPC security groups of the restored instance or cluster.
    type: list
    elements: str
  wait:
    description:
      - Wait until a new snapshot or restored target is available, or a deleted snapshot is gone.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait at most; the task fails when they run out, naming the status it last saw.
    type: int
    default: 1800
notes:
  - The age of a snapshot is measured from its creation time to now, in UTC.
  - Storage headroom uses the newest C(FreeStorageSpace) datapoint of the last 30 minutes and fails when there is none.
    With storage autoscaling, headroom is measured against the currently allocated storage.
  - A wrong region, missing credentials, or an unknown instance, cluster or snapshot each fail with one line.
  - Requests are retried with jittered backoff when AWS throttles them.
seealso:
  - module: dbops.runbooks.db_backup
  - module: amazon.aws.rds_instance_snapshot
author:
  - dbops.runbooks maintainers (@dbops-runbooks)
"""

EXAMPLES = r"""
- name: "1.1 + 1.7 RDS snapshot within the last 4 hours, storage headroom above 20%"
  dbops.runbooks.rds_snapshot:
    state: fresh
    db_instance_identifier: academy-prod
    max_age: 4h
    min_free_storage_pct: 20
    region: eu-west-1

- name: Take the pre-migration snapshot the rollback restores
  dbops.runbooks.rds_snapshot:
    db_instance_identifier: academy-prod
    snapshot_id: pre-community-schema
    max_age: 1d
    tags:
      change_request: MIG-CR-884
    region: eu-west-1

- name: Take a snapshot named after the plan and the time
  dbops.runbooks.rds_snapshot:
    db_instance_identifier: academy-prod
    plan_key: communities_data_convergence
    region: eu-west-1

- name: "Rollback: restore pre-community-schema to a new instance"
  dbops.runbooks.rds_snapshot:
    state: restored
    db_instance_identifier: academy-prod
    snapshot_id: pre-community-schema
    target_identifier: academy-prod-restored
    instance_class: db.r6g.large
    region: eu-west-1
  register: restored

- name: Restore an Aurora cluster to its latest restorable time
  dbops.runbooks.rds_snapshot:
    state: restored
    db_cluster_identifier: academy-cluster
    use_latest_restorable_time: true
    target_identifier: academy-cluster-pitr
    instance_class: db.r6g.large

- name: Delete the snapshot once the change is signed off
  dbops.runbooks.rds_snapshot:
    state: absent
    db_instance_identifier: academy-prod
    snapshot_id: pre-community-schema
"""

RETURN = r"""
snapshot_id:
  description: The snapshot taken, found newest, or deleted.
  returned: when a snapshot is involved
  type: str
  sample: pre-community-schema
snapshot_arn:
  description: ARN of that snapshot.
  returned: when the snapshot exists or was created
  type: str
  sample: arn:aws:rds:eu-west-1:123456789012:snapshot:pre-community-schema
snapshot_type:
  description: V(automated) or V(manual).
  returned: when the snapshot exists or was created
  type: str
status:
  description: Status of the snapshot, or of the restored instance or cluster.
  returned: when the resource exists or was created
  type: str
  sample: available
create_time:
  description: Creation time of the snapshot (ISO 8601, UTC).
  returned: when the snapshot exists or was created
  type: str
  sample: "2024-12-24T09:58:12.301000+00:00"
allocated_storage_gib:
  description: Storage of the snapshot's source in GiB.
  returned: when the snapshot exists or was created
  type: int
  sample: 100
age_seconds:
  description: Age of the snapshot in seconds.
  returned: when the snapshot exists or was created
  type: int
  sample: 4271
age:
  description: Age of the snapshot as the two largest units.
  returned: when the snapshot exists or was created
  type: str
  sample: 1h 11m
max_age_seconds:
  description: The O(max_age) limit in seconds.
  returned: with O(state=fresh)
  type: int
  sample: 14400
snapshot:
  description: The snapshot as RDS describes it, in snake_case, with C(tags) as a dict.
  returned: when the snapshot exists or was created
  type: dict
storage:
  description: Storage headroom of the instance.
  returned: when O(min_free_storage_pct) is set
  type: dict
  contains:
    allocated_gib:
      description: Allocated storage in GiB.
      type: int
    free_bytes:
      description: The latest C(FreeStorageSpace) minimum in bytes.
      type: int
    free_gib:
      description: The same in GiB.
      type: float
    free_pct:
      description: Free storage in percent of the allocated storage.
      type: float
    min_free_pct:
      description: The O(min_free_storage_pct) limit.
      type: float
    ok:
      description: Whether the limit is met.
      type: bool
    measured_at:
      description: Time of the datapoint.
      type: str
  sample: {allocated_gib: 100, free_bytes: 41875931136, free_gib: 39.0, free_pct: 39.0, min_free_pct: 20.0, ok: true}
target_identifier:
  description: The restored instance or cluster.
  returned: with O(state=restored)
  type: str
restored_from:
  description: The snapshot, or the source and time, the target was restored from.
  returned: with O(state=restored)
  type: dict
  sample: {snapshot_id: pre-community-schema}
endpoint:
  description: Address and port of the restored instance or cluster.
  returned: with O(state=restored), outside check mode
  type: dict
  sample: {address: academy-prod-restored.abc123.eu-west-1.rds.amazonaws.com, port: 3306}
restored:
  description: The restored instance or cluster as RDS describes it, in snake_case.
  returned: with O(state=restored), outside check mode
  type: dict
writer_instance:
  description: The writer instance created in a restored Aurora cluster.
  returned: with O(state=restored) of a cluster, outside check mode
  type: dict
write_calls:
  description: Every RDS write call made, or in check mode the calls that would be made, with their parameters.
  returned: always
  type: list
  elements: dict
  sample: [{operation: create_db_snapshot, params: {DBSnapshotIdentifier: pre-community-schema, DBInstanceIdentifier: academy-prod}}]
region:
  description: The region used.
  returned: always
  type: str
source:
  description: The instance or cluster, as C(DB instance <id>) or C(Aurora cluster <id>).
  returned: always
  type: str
msg:
  description: One line saying what was done or found.
  returned: always
  type: str
  sample: newest snapshot rds:academy-prod-2024-12-24-06-10 is 3h 48m old (max_age 4h)
dbops_report:
  description:
    - What the run report (callback P(dbops.runbooks.runbook_report#callback)) records of this task, also on failure;
      it holds no argument and no secret.
    - C(kind) (V(rds_snapshot)), C(changed), C(check_mode), C(failed), C(state), C(snapshot_id),
      C(snapshot_arn), C(status), C(create_time), C(age), C(max_age_seconds), C(source), C(region),
      C(storage), C(target_identifier), C(restored_from) and C(msg).
  returned: always
  type: dict
  sample: {kind: rds_snapshot, changed: true, check_mode: false, failed: false, state: present, snapshot_id:
    pre-community-schema, status: available}
"""

from ansible_collections.dbops.runbooks.plugins.module_utils.dbops_report import reported
from ansible_collections.dbops.runbooks.plugins.module_utils.rds import RdsModule, run_rds_snapshot


def main():
    module = RdsModule(
        argument_spec=dict(
            state=dict(type="str", default="present", choices=["present", "absent", "fresh", "headroom", "restored"]),
            db_instance_identifier=dict(type="str", aliases=["instance_id"]),
            db_cluster_identifier=dict(type="str", aliases=["cluster_id"]),
            snapshot_id=dict(type="str", aliases=["db_snapshot_identifier"]),
            plan_key=dict(type="str", no_log=False),
            tags=dict(type="dict", aliases=["resource_tags"]),
            max_age=dict(type="str"),
            snapshot_type=dict(type="str", default="any", choices=["any", "automated", "manual"]),
            min_free_storage_pct=dict(type="float"),
            target_identifier=dict(type="str"),
            restore_time=dict(type="str"),
            use_latest_restorable_time=dict(type="bool", default=False),
            instance_class=dict(type="str"),
            db_subnet_group_name=dict(type="str"),
            vpc_security_group_ids=dict(type="list", elements="str"),
            wait=dict(type="bool", default=True),
            wait_timeout=dict(type="int", default=1800),
        ),
        required_one_of=[("db_instance_identifier", "db_cluster_identifier")],
        mutually_exclusive=[
            ("db_instance_identifier", "db_cluster_identifier"),
            ("snapshot_id", "restore_time"),
            ("snapshot_id", "use_latest_restorable_time"),
            ("restore_time", "use_latest_restorable_time"),
        ],
        required_if=[
            ("state", "present", ("snapshot_id", "plan_key"), True),
            ("state", "absent", ("snapshot_id",)),
            ("state", "fresh", ("max_age",)),
            ("state", "headroom", ("min_free_storage_pct",)),
            ("state", "restored", ("target_identifier",)),
        ],
        supports_check_mode=True,
    )
    module.run(reported("rds_snapshot", run_rds_snapshot))


if __name__ == "__main__":
    main()
