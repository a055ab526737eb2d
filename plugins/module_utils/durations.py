# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ages and limits as the runbooks write them ("4h", "90m", "1d12h") and as operators read them."""

from __future__ import annotations

import datetime
import re

from ansible_collections.dbops.runbooks.plugins.module_utils.database import DbopsError

UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
DURATION_RE = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_duration(value, option="duration"):
    """Seconds in `value`: a number of seconds, or units d/h/m/s in that order ("4h", "1d12h", "90m")."""
    if isinstance(value, bool):
        raise DbopsError("%s: %r is not a duration" % (option, value))
    if isinstance(value, (int, float)):
        seconds = int(value)
    else:
        text = str(value).strip().lower().replace(" ", "")
        if text.isdigit():
            seconds = int(text)
        else:
            match = DURATION_RE.match(text)
            if not text or not match:
                raise DbopsError("%s: %r is not a duration; write seconds or units like 4h, 90m, 1d12h" % (option, value))
            seconds = sum(int(amount or 0) * UNIT_SECONDS[unit] for amount, unit in zip(match.groups(), "dhms"))
    if seconds <= 0:
        raise DbopsError("%s: %r must be longer than zero" % (option, value))
    return seconds


def format_duration(seconds):
    """`seconds` as the largest two units: 5h 12m, 3d 4h, 42s."""
    seconds = max(int(round(seconds)), 0)
    parts = []
    for unit, size in UNIT_SECONDS.items():
        amount, seconds = divmod(seconds, size)
        if amount or (unit == "s" and not parts):
            parts.append("%d%s" % (amount, unit))
    return " ".join(parts[:2])


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def age_seconds(moment, now=None):
    """Seconds since an aware `moment` (naive moments are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return max(((now or utc_now()) - moment).total_seconds(), 0.0)


def parse_utc_time(value, option="time"):
    """An ISO 8601 time; without a zone it is UTC. Returns an aware datetime."""
    text = str(value).strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise DbopsError("%s: %r is not an ISO 8601 time such as 2024-12-24T10:15:00Z" % (option, value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc)
