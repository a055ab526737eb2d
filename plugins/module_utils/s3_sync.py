# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`aws s3 sync s3://bucket/prefix dest` in one module call: list the prefix, compare, download what differs.

`plan_sync` is the pure part (which objects to download and why); `S3Sync` lists, plans and downloads;
`S3SyncModule` is amazon.aws's `AnsibleAWSModule` with one error edge. Nothing is ever deleted.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile

try:
    import botocore.exceptions
except ImportError:
    pass  # AnsibleAWSModule reports the missing library

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.dbops.runbooks.plugins.module_utils.edge import DbopsError, to_jsonable

NO_BUCKET_CODES = ("NoSuchBucket",)
DENIED_CODES = ("AccessDenied", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken")
CHUNK = 1024 * 1024


def file_md5(path):
    digest = hashlib.md5()  # nosec - compared with the S3 ETag, not used for security
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def local_file(path):
    """(size, md5 callable) of a regular file, None when missing; a folder in the way is an error."""
    if not os.path.lexists(path):
        return None
    if not os.path.isfile(path):
        raise DbopsError("%s exists and is not a regular file: cannot sync an S3 object to it" % path)
    return os.path.getsize(path), lambda: file_md5(path)


def why_download(etag, size, local):
    """Why an object must be downloaded (`missing`, `size differs`, `md5 differs`), or None when it is unchanged.

    `local` is (size, md5 callable) or None. A single-part ETag is the object's MD5; a multipart one
    (`<md5>-<parts>`) is not, so then only the size is compared.
    """
    if local is None:
        return "missing"
    local_size, local_md5 = local
    if local_size != size:
        return "size differs"
    etag = (etag or "").strip('"')
    if "-" in etag or not etag:
        return None
    return "md5 differs" if local_md5() != etag else None


def relative_key(key, prefix):
    """The part of `key` below the prefix folder, or None for a folder marker; refuses keys leaving the folder."""
    rel = key[len(prefix):].lstrip("/")
    if not rel or key.endswith("/"):
        return None
    parts = rel.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise DbopsError("S3 key %s cannot be synced: it has an empty, '.' or '..' path part" % key)
    return rel


def plan_sync(objects, prefix, dest, local=local_file):
    """[{key, dest, size, reason}] to download, and how many objects are unchanged.

    `objects` are list_objects_v2 `Contents` entries (Key, ETag, Size); `local(path)` is as `local_file`.
    """
    todo, unchanged = [], 0
    for obj in objects:
        rel = relative_key(obj["Key"], prefix)
        if rel is None:
            continue
        path = os.path.join(dest, *rel.split("/"))
        reason = why_download(obj.get("ETag"), obj.get("Size", 0), local(path))
        if reason is None:
            unchanged += 1
        else:
            todo.append(dict(key=obj["Key"], dest=path, size=obj.get("Size", 0), reason=reason))
    return todo, unchanged


def sync_diff(uri, todo):
    """The --diff of a sync: the files before (missing or different) and after (downloaded)."""
    return dict(before_header="%s (local)" % uri, after_header=uri,
                before="".join("%s (%s)\n" % (item["dest"], item["reason"]) for item in todo),
                after="".join("%s (%d bytes from %s)\n" % (item["dest"], item["size"], item["key"]) for item in todo))


@AWSRetry.jittered_backoff()
def list_prefix(client, bucket, prefix):
    objects = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        objects.extend(page.get("Contents", []))
    return objects


class S3SyncModule(AnsibleAWSModule):
    """AnsibleAWSModule with one error edge: a DbopsError or an AWS error becomes one line."""

    def run(self, logic):
        uri = "s3://%s/%s" % (self.params["bucket"], self.params["prefix"])
        try:
            result = logic(self)
        except DbopsError as e:
            self.fail_json(msg=str(e), **to_jsonable(e.details))
        except botocore.exceptions.NoCredentialsError:
            self.fail_json(msg="no AWS credentials found to read %s: set access_key and secret_key or profile, "
                               "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" % uri)
        except is_boto3_error_code(NO_BUCKET_CODES):
            self.fail_json(msg="S3 bucket %s does not exist (region %s)" % (self.params["bucket"], self.region))
        except is_boto3_error_code(DENIED_CODES) as e:  # pylint: disable=duplicate-except
            self.fail_json_aws(e, msg="AWS denied reading %s" % uri)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:  # pylint: disable=duplicate-except
            self.fail_json_aws(e, msg="S3 request for %s failed" % uri)
        self.exit_json(**to_jsonable(result))


def run_s3_sync(module):
    return S3Sync(module).sync()


class S3Sync:
    """The logic of s3_sync: one prefix into one local folder."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.bucket = self.params["bucket"]
        self.prefix = self.params["prefix"]
        self.dest = self.params["dest"]
        self.uri = "s3://%s/%s" % (self.bucket, self.prefix)
        self.s3 = module.client("s3", retry_decorator=AWSRetry.jittered_backoff(retries=8))

    def sync(self):
        objects = list_prefix(self.s3, self.bucket, self.prefix)
        todo, unchanged = plan_sync(objects, self.prefix, self.dest)
        if not todo and not unchanged and not self.params["allow_empty"]:
            raise DbopsError("%s holds no object to sync (set allow_empty: true if that is expected)" % self.uri,
                             bucket=self.bucket, prefix=self.prefix, dest=self.dest)
        result = dict(changed=bool(todo), bucket=self.bucket, prefix=self.prefix, dest=self.dest, unchanged=unchanged)
        if self.module._diff:
            result["diff"] = sync_diff(self.uri, todo)
        if self.module.check_mode:
            result.update(would_download=todo, msg="%s: would download %d file(s) to %s, %d unchanged"
                          % (self.uri, len(todo), self.dest, unchanged))
            return result
        for item in todo:
            self.download(item)
        result.update(downloaded=todo, msg="%s: downloaded %d file(s) to %s, %d unchanged"
                      % (self.uri, len(todo), self.dest, unchanged))
        return result

    def download(self, item):
        """Write the object next to its destination, then rename: a reader never sees half a file."""
        folder = os.path.dirname(item["dest"])
        try:
            os.makedirs(folder, mode=0o755, exist_ok=True)
        except OSError as e:
            raise DbopsError("cannot create %s for %s: %s" % (folder, item["key"], e.strerror))
        body = self.s3.get_object(aws_retry=True, Bucket=self.bucket, Key=item["key"])["Body"]
        handle = tempfile.NamedTemporaryFile(dir=folder, prefix=".s3_sync.", delete=False)
        try:
            with handle:
                shutil.copyfileobj(body, handle, CHUNK)
            os.chmod(handle.name, 0o644)
            os.replace(handle.name, item["dest"])
        except BaseException:
            os.unlink(handle.name)
            raise
