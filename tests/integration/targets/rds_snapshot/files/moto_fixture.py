# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The RDS resources the tests run against, made with real boto3 calls to moto_server.

  python moto_fixture.py instance <id> <free GiB>   a MySQL instance of 20 GiB and its FreeStorageSpace
  python moto_fixture.py cluster <id>               an Aurora MySQL cluster
  python moto_fixture.py count <prefix>             JSON counts of instances, clusters and snapshots
  python moto_fixture.py cleanup <prefix>           delete everything whose identifier starts with prefix

Endpoint, region and keys come from DBOPS_AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY.
"""

from __future__ import annotations

import json
import os
import sys

import boto3

GIB = 1024 ** 3


def client(service):
    return boto3.client(service, endpoint_url=os.environ["DBOPS_AWS_ENDPOINT_URL"],
                        region_name=os.environ["AWS_REGION"])


def create_instance(identifier, free_gib):
    client("rds").create_db_instance(
        DBInstanceIdentifier=identifier, DBInstanceClass="db.t3.micro", Engine="mysql", AllocatedStorage=20,
        MasterUsername="admin", MasterUserPassword="fixture-only-1234", BackupRetentionPeriod=7)
    client("cloudwatch").put_metric_data(Namespace="AWS/RDS", MetricData=[dict(
        MetricName="FreeStorageSpace", Unit="Bytes", Value=float(free_gib) * GIB,
        Dimensions=[dict(Name="DBInstanceIdentifier", Value=identifier)])])


def create_cluster(identifier):
    client("rds").create_db_cluster(DBClusterIdentifier=identifier, Engine="aurora-mysql",
                                    MasterUsername="admin", MasterUserPassword="fixture-only-1234")


def owned(prefix):
    rds = client("rds")
    return dict(
        instances=[i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]
                   if i["DBInstanceIdentifier"].startswith(prefix)],
        clusters=[c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"]
                  if c["DBClusterIdentifier"].startswith(prefix)],
        snapshots=[s["DBSnapshotIdentifier"] for s in rds.describe_db_snapshots()["DBSnapshots"]
                   if s["DBInstanceIdentifier"].startswith(prefix)],
        cluster_snapshots=[s["DBClusterSnapshotIdentifier"] for s in rds.describe_db_cluster_snapshots()["DBClusterSnapshots"]
                           if s["DBClusterIdentifier"].startswith(prefix)],
    )


def cleanup(prefix):
    rds = client("rds")
    found = owned(prefix)
    for snapshot in found["snapshots"]:
        if not snapshot.startswith("rds:"):
            rds.delete_db_snapshot(DBSnapshotIdentifier=snapshot)
    for snapshot in found["cluster_snapshots"]:
        if not snapshot.startswith("rds:"):
            rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=snapshot)
    for instance in found["instances"]:
        rds.delete_db_instance(DBInstanceIdentifier=instance, SkipFinalSnapshot=True)
    for cluster in found["clusters"]:
        rds.delete_db_cluster(DBClusterIdentifier=cluster, SkipFinalSnapshot=True)


def main(argv):
    command, identifier = argv[1], argv[2]
    if command == "instance":
        create_instance(identifier, argv[3])
    elif command == "cluster":
        create_cluster(identifier)
    elif command == "cleanup":
        cleanup(identifier)
    if command == "count":
        print(json.dumps({key: len(value) for key, value in owned(identifier).items()}))
    else:
        print(json.dumps(owned(identifier)))


if __name__ == "__main__":
    main(sys.argv)
