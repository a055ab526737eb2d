# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Split a SQL script into statements, so each one can be run, timed and named on failure.

Knows quoted strings and identifiers, comments (`--`, `#` on MySQL, nested `/* */` on
PostgreSQL), PostgreSQL dollar-quoted bodies, routine bodies (`BEGIN ... END`) and the MySQL
client's `DELIMITER` lines. A `;` inside any of them does not split.
"""

from __future__ import annotations

import re
from collections import namedtuple

Statement = namedtuple("Statement", "index line text")

_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


class SplitError(ValueError):
    """The script cannot be split (an unterminated quote or comment)."""


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_DELIMITER = re.compile(r"DELIMITER[ \t]+(\S+)[ \t]*(?:\r?\n|$)", re.IGNORECASE)
_ROUTINE_KINDS = {"procedure", "function", "trigger", "event"}
# Words that open a compound block inside a routine body; END closes one (END IF, END LOOP ... too).
_BLOCK_OPENERS = {"mysql": ("begin", "case", "if", "loop", "while", "repeat"), "postgres": ("case",)}


class _Block:
    """Tracks BEGIN ... END nesting in a routine body, so a `;` inside it does not split."""

    def __init__(self, engine):
        self.openers = _BLOCK_OPENERS[engine]
        self.postgres = engine == "postgres"
        self.depth = 0
        self.previous = ""

    def word(self, word, rest):
        """Feed one word (lower-case) and the text after it."""
        after = rest.lstrip()
        if word == "end":
            self.depth = max(self.depth - 1, 0)
        elif self.previous == "end" and word in ("if", "case", "loop", "while", "repeat"):
            pass  # END IF and friends close what END already counted
        elif self.postgres and word == "begin" and after[:6].lower() == "atomic":
            self.depth += 1
        elif word in self.openers and not after.startswith("(") and not (
                word == "if" and re.match(r"(not\s+)?exists\b", after, re.IGNORECASE)):
            self.depth += 1
        self.previous = word


# Anything that can hide or move a statement boundary: quotes, comments, dollar bodies, routines, DELIMITER.
# Quoted strings and identifiers without ; or backslash cannot move a boundary: they may take the fast path.
_PLAIN_QUOTED = re.compile(r"'[^'\\;]*'|\"[^\"\\;]*\"|`[^`\\;]*`")
_NOT_SIMPLE = re.compile(r"['\"`$#/\\-]|\b(?:procedure|function|trigger|event|delimiter)\b", re.IGNORECASE)


def split_statements(script, engine):
    """Return the statements of `script` (numbered from 1, with their first line).

    MySQL scripts may change the delimiter with the client's `DELIMITER` line, as dumps of
    procedures and triggers do; routine bodies (`BEGIN ... END`, PostgreSQL `BEGIN ATOMIC`)
    are kept whole even without it.
    """
    if not _NOT_SIMPLE.search(_PLAIN_QUOTED.sub("", script)):
        return _split_simple(script)
    return _split_full(script, engine)


def _split_simple(script):
    """A script without quotes, comments or routines: every `;` ends a statement (most migrations)."""
    statements = []
    line = 1
    for piece in script.split(";"):
        text = piece.strip()
        if text:
            statements.append(Statement(len(statements) + 1, line + piece[:len(piece) - len(piece.lstrip())].count("\n"), text))
        line += piece.count("\n")
    return statements


def _split_full(script, engine):
    statements = []
    buf = []
    words = []  # the first words of the statement, lower-case, to spot CREATE ... PROCEDURE
    start_line = None
    line = 1
    i = 0
    n = len(script)
    mysql = engine == "mysql"
    delimiter = ";"
    block = None
    plain = _plain_run(delimiter)

    def flush():
        text = "".join(buf).strip()
        if text and _has_code(text, mysql):
            statements.append(Statement(len(statements) + 1, start_line, text))

    while i < n:
        ch = script[i]
        if mysql and start_line is None and (i == 0 or script[i - 1] == "\n"):
            match = _DELIMITER.match(script, i)
            if match:
                delimiter = match.group(1)
                plain = _plain_run(delimiter)
                line += match.group(0).count("\n")
                i = match.end()
                continue
        if start_line is None and not ch.isspace():
            start_line = line
        if script.startswith(delimiter, i) and (block is None or block.depth == 0 or delimiter != ";"):
            flush()
            buf, words, start_line, block = [], [], None, None
            i += len(delimiter)
            continue
        run = plain.match(script, i) if start_line is not None else None
        if run:  # a stretch without quotes, comments, words or the delimiter: take it whole
            buf.append(run.group(0))
            line += run.group(0).count("\n")
            i = run.end()
            continue
        word = _WORD.match(script, i) if (ch.isalpha() or ch == "_") and (i == 0 or not _is_word_char(script[i - 1])) else None
        if word:
            text = word.group(0)
            if delimiter in text:  # END$$ with DELIMITER $$: the word stops at the delimiter
                text = text[:text.index(delimiter)]
            buf.append(text)
            end = i + len(text)
            if block is not None:
                block.word(text.lower(), script[end:end + 40])
            elif len(words) < 8:
                words.append(text.lower())
                if words[0] == "create" and words[-1] in _ROUTINE_KINDS:
                    block = _Block(engine)
            i = end
            continue
        end = _skip_token(script, i, mysql)
        token = script[i:end]
        buf.append(token)
        line += token.count("\n")
        i = end
    flush()
    return statements


def _plain_run(delimiter):
    return re.compile(r"[^A-Za-z_'\"`\-#/$%s]+" % re.escape(delimiter[0]))


def _is_word_char(ch):
    return ch.isalnum() or ch in "_$"


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


def without_leading_comments(text, engine):
    """The statement from its first code character on."""
    i = _code_start(text, engine == "mysql")
    return text[i:] if i >= 0 else ""


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
