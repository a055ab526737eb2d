# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Split a SQL script into statements, so each one can be run, timed and named on failure.

Knows quoted strings and identifiers, comments (`--`, `#` on MySQL, nested `/* */` on
PostgreSQL) and PostgreSQL dollar-quoted bodies. A `;` inside any of them does not split.
"""

from __future__ import annotations

import re
from collections import namedtuple

Statement = namedtuple("Statement", "index line text")

_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


class SplitError(ValueError):
    """The script cannot be split (an unterminated quote or comment)."""


def split_statements(script, engine):
    """Return the statements of `script` (numbered from 1, with their first line)."""
    statements = []
    buf = []
    start_line = None
    line = 1
    i = 0
    n = len(script)
    mysql = engine == "mysql"

    def flush():
        text = "".join(buf).strip()
        if text and _has_code(text, mysql):
            statements.append(Statement(len(statements) + 1, start_line, text))

    while i < n:
        ch = script[i]
        if start_line is None and not ch.isspace():
            start_line = line
        if ch == ";":
            flush()
            buf, start_line = [], None
            i += 1
            continue
        end = _skip_token(script, i, mysql)
        token = script[i:end]
        buf.append(token)
        line += token.count("\n")
        i = end
    flush()
    return statements


def _skip_token(s, i, mysql):
    """Index just past the token that starts at `i` (a quote, comment, dollar body or one char)."""
    ch = s[i]
    nxt = s[i + 1] if i + 1 < len(s) else ""
    if ch in ("'", '"', "`"):
        backslash = mysql or (ch == "'" and i > 0 and s[i - 1] in "eE")
        return _skip_quoted(s, i, ch, backslash)
    if ch == "-" and nxt == "-" and (not mysql or i + 2 >= len(s) or s[i + 2] in " \t\r\n"):
        return _line_end(s, i)
    if ch == "#" and mysql:
        return _line_end(s, i)
    if ch == "/" and nxt == "*":
        return _skip_block_comment(s, i, nested=not mysql)
    if ch == "$" and not mysql:
        match = _DOLLAR_TAG.match(s, i)
        if match and (i == 0 or not (s[i - 1].isalnum() or s[i - 1] == "_")):
            tag = match.group(0)
            close = s.find(tag, match.end())
            if close < 0:
                raise SplitError("unterminated dollar-quoted body %s at line %d" % (tag, _line_of(s, i)))
            return close + len(tag)
    return i + 1


def _skip_quoted(s, i, quote, backslash):
    j = i + 1
    while j < len(s):
        ch = s[j]
        if backslash and ch == "\\":
            j += 2
            continue
        if ch == quote:
            if j + 1 < len(s) and s[j + 1] == quote:
                j += 2
                continue
            return j + 1
        j += 1
    raise SplitError("unterminated %s quote starting at line %d" % (quote, _line_of(s, i)))


def _skip_block_comment(s, i, nested):
    depth = 0
    j = i
    while j < len(s):
        if s.startswith("/*", j) and (nested or depth == 0):
            depth += 1
            j += 2
        elif s.startswith("*/", j):
            depth -= 1
            j += 2
            if depth == 0:
                return j
        else:
            j += 1
    raise SplitError("unterminated /* comment starting at line %d" % _line_of(s, i))


def _line_end(s, i):
    end = s.find("\n", i)
    return len(s) if end < 0 else end


def _line_of(s, i):
    return s.count("\n", 0, i) + 1


def _code_start(text, mysql):
    """Index of the first character that is not white space or a comment; -1 if there is none."""
    i = 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        end = _skip_token(text, i, mysql)
        token = text[i:end]
        # MySQL runs /*! ... */ and /*+ ... */ bodies: they are code, not comments.
        comment = token.startswith("--") or (mysql and token.startswith("#")) or (
            token.startswith("/*") and not (mysql and token[2:3] in ("!", "+")))
        if not comment:
            return i
        i = end
    return -1


def _has_code(text, mysql):
    """False for a piece that holds only comments."""
    return _code_start(text, mysql) >= 0


def first_keyword(text, engine):
    """The first word of a statement after any leading comments, lower-cased ("" if none)."""
    i = _code_start(text, engine == "mysql")
    if i < 0:
        return ""
    match = re.match(r"[A-Za-z_]+", text[i:])
    return match.group(0).lower() if match else text[i]


def summarize(text, width=120):
    """One line of a statement for messages."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."
