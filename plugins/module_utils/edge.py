# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module edge: logic raises `DbopsError`; `run_module` is the one place that turns it into
`fail_json` (database modules reach it through `DatabaseModule.run`).
"""

from __future__ import annotations

import datetime
import decimal


class DbopsError(Exception):
    """The one error the collection's logic raises; `details` are extra result keys."""

    def __init__(self, msg, **details):
        super().__init__(msg)
        self.details = details


def to_jsonable(value):
    """Turn a driver value into something `exit_json` can serialise."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {key: to_jsonable(item) for key, item in value.items()}
    return value


def run_module(module, logic):
    """Call `logic(module)` and report its result dict; a `DbopsError` becomes `fail_json`."""
    try:
        result = logic(module)
    except DbopsError as e:
        module.fail_json(msg=str(e), **to_jsonable(e.details))
    module.exit_json(**to_jsonable(result))
