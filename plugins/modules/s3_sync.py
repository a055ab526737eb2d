#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: s3_sync
short_description: Download an S3 prefix into a local folder in one call, like aws s3 sync
version_added: 0.2.0
description:
  - Lists every object under O(prefix) of O(bucket) (all pages) and downloads into O(dest) each one that is missing
    locally or differs, creating the folders it needs; the object C(<prefix>/a/b.svg) becomes C(<dest>/a/b.svg).
  - An object differs when its size differs, or when its single-part ETag (the MD5 of its content) differs from the
    local file's MD5. A multipart ETag (C(<md5>-<parts>)) is not an MD5, so for those only the size is compared.
    Unlike C(aws s3 sync), modification times are not compared.
  - Local files that are not in S3 are kept; the module never deletes.
  - Each file is written to a temporary file in its folder and renamed, so a reader never sees half a file.
  - Reports C(changed) only when it downloaded something (in check mode, when it would); the result lists what was
    downloaded and why.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - dbops.runbooks.attributes
attributes:
  check_mode:
    support: full
    details: Lists and compares only; RV(would_download) says what would be downloaded. No file or folder is written.
  diff_mode:
    support: full
    details: Lists the local files that would be or were replaced, and the objects they come from.
options:
  bucket:
    description:
      - The S3 bucket.
    type: str
    required: true
  prefix:
    description:
      - The key prefix to sync. End it with C(/) to sync a folder (C(communities/icons/)); without the slash,
        C(communities/icons) also matches C(communities/icons@latest-backup/).
      - Keys ending in C(/) (folder markers) are skipped; a key with an empty, C(.) or C(..) path part fails the task.
    type: str
    required: true
  dest:
    description:
      - The local folder the prefix is synced into, on the host the module runs on. Created when missing.
    type: path
    required: true
  allow_empty:
    description:
      - Succeed when the prefix holds no object. By default an empty prefix fails the task, since it usually means a
        wrong bucket, prefix or region.
    type: bool
    default: false
notes:
  - Downloaded files are written with mode C(0644) and new folders with C(0755).
  - There is no delete option; remove stale local files with M(ansible.builtin.file).
  - An unknown bucket, missing credentials or denied access fail with one line naming the bucket or prefix.
  - S3 requests are retried with jittered backoff when AWS throttles them.
  - It runs where the task runs (use C(delegate_to) for each app server); boto3 must be installed there.
seealso:
  - module: amazon.aws.s3_object
  - module: amazon.aws.s3_object_info
author:
  - dbops.runbooks maintainers (@dbops-runbooks)
"""

EXAMPLES = r"""
- name: "6.3 aws s3 sync s3://academy-assets/communities/icons storage/app/public/communities/icons"
  dbops.runbooks.s3_sync:
    bucket: academy-assets
    prefix: communities/icons/
    dest: /var/www/academy/storage/app/public/communities/icons
    region: eu-west-1
  delegate_to: "{{ app_server }}"
  loop: "{{ groups['app_servers'] }}"
  loop_control:
    loop_var: app_server
  register: icons

- name: Plan only (check mode), e.g. to decide whether a maintenance window is needed
  dbops.runbooks.s3_sync:
    bucket: academy-assets
    prefix: communities/icons/
    dest: /var/www/academy/storage/app/public/communities/icons
  check_mode: true
  register: icons_plan
"""

RETURN = r"""
bucket:
  description: The bucket synced from.
  returned: always
  type: str
  sample: academy-assets
prefix:
  description: The prefix synced.
  returned: always
  type: str
  sample: communities/icons/
dest:
  description: The local folder synced into.
  returned: always
  type: str
  sample: /var/www/academy/storage/app/public/communities/icons
downloaded:
  description: The objects downloaded, with why.
  returned: outside check mode
  type: list
  elements: dict
  contains:
    key:
      description: The S3 key.
      type: str
    dest:
      description: The local file written.
      type: str
    size:
      description: Size in bytes.
      type: int
    reason:
      description: V(missing), V(size differs) or V(md5 differs).
      type: str
  sample: [{key: communities/icons/design.svg, dest: /var/www/academy/storage/app/public/communities/icons/design.svg,
            size: 245, reason: missing}]
would_download:
  description: In check mode, the objects that would be downloaded, as RV(downloaded).
  returned: in check mode
  type: list
  elements: dict
unchanged:
  description: How many objects are already the same locally.
  returned: always
  type: int
  sample: 7
msg:
  description: One line saying what was synced.
  returned: always
  type: str
  sample: "s3://academy-assets/communities/icons/: downloaded 2 file(s) to /var/www/academy/storage/app/public/communities/icons, 5 unchanged"
dbops_report:
  description:
    - What the run report (callback P(dbops.runbooks.runbook_report#callback)) records of this task, also on failure;
      it holds no argument and no secret.
    - C(kind) (V(s3_sync)), C(changed), C(check_mode), C(failed), C(bucket), C(prefix), C(dest), C(downloaded),
      C(would_download), C(unchanged) and C(msg).
  returned: always
  type: dict
  sample: {kind: s3_sync, changed: true, check_mode: false, failed: false, bucket: academy-assets, unchanged: 5}
"""

from ansible_collections.dbops.runbooks.plugins.module_utils.dbops_report import reported
from ansible_collections.dbops.runbooks.plugins.module_utils.s3_sync import S3SyncModule, run_s3_sync


def main():
    module = S3SyncModule(
        argument_spec=dict(
            bucket=dict(type="str", required=True),
            prefix=dict(type="str", required=True),
            dest=dict(type="path", required=True),
            allow_empty=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    module.run(reported("s3_sync", run_s3_sync))


if __name__ == "__main__":
    main()
