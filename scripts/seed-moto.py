# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Seed the local stack's moto_server with what runbook step 6 syncs.

Creates the bucket academy-assets with one SVG icon per seeded community category under
communities/icons/ and the same files under communities/icons@latest-backup/ (the copy step 6's
rollback restores from). Idempotent: an object is only written when it is missing or differs.

    .venv/bin/python scripts/seed-moto.py [--endpoint http://127.0.0.1:55000]
"""

import argparse
import hashlib
import os
import sys

import boto3
from botocore.exceptions import BotoCoreError, ClientError

BUCKET = "academy-assets"
PREFIXES = ("communities/icons/", "communities/icons@latest-backup/")
# The icons examples/academy/seeds/community_foundation.sql points at (community_categories.icon).
CATEGORIES = {
    "programming": ("#2563EB", "</>"),
    "data-science": ("#7C3AED", "DS"),
    "design": ("#DB2777", "De"),
    "languages": ("#059669", "Aa"),
    "career": ("#D97706", "Ca"),
    "study-groups": ("#0891B2", "SG"),
    "local-meetups": ("#DC2626", "LM"),
}
SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">'
    '<rect width="64" height="64" rx="12" fill="{color}"/>'
    '<text x="32" y="40" font-family="sans-serif" font-size="22" text-anchor="middle" fill="#fff">{label}</text>'
    "</svg>\n"
)


def icon_bytes(color, label):
    label = label.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return SVG.format(color=color, label=label).encode()


def ensure_bucket(s3, region):
    try:
        s3.head_bucket(Bucket=BUCKET)
        return False
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket"):
            raise
    kwargs = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=BUCKET, **kwargs)
    return True


def ensure_object(s3, key, body):
    """Write the object unless it already holds these bytes (ETag of a single-part upload is its MD5)."""
    try:
        etag = s3.head_object(Bucket=BUCKET, Key=key)["ETag"].strip('"')
        if etag == hashlib.md5(body).hexdigest():  # nosec - comparing with S3's ETag, not security
            return False
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey"):
            raise
    s3.put_object(Bucket=BUCKET, Key=key, Body=body, ContentType="image/svg+xml")
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", default="http://127.0.0.1:%s" % os.environ.get("DBOPS_MOTO_PORT", "55000"))
    parser.add_argument("--region", default="eu-west-1")
    args = parser.parse_args()
    # moto accepts any credentials; these dummy ones keep boto3 from looking for real ones.
    s3 = boto3.client("s3", endpoint_url=args.endpoint, region_name=args.region,
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    try:
        written = int(ensure_bucket(s3, args.region))
        for prefix in PREFIXES:
            for slug, (color, label) in sorted(CATEGORIES.items()):
                written += ensure_object(s3, "%s%s.svg" % (prefix, slug), icon_bytes(color, label))
    except (BotoCoreError, ClientError) as exc:
        sys.exit("seed-moto: s3://%s at %s: %s" % (BUCKET, args.endpoint, exc))
    print("seed-moto: s3://%s ready at %s (%d write(s))" % (BUCKET, args.endpoint, written), file=sys.stderr)


if __name__ == "__main__":
    main()
