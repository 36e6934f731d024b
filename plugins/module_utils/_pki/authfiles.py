# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The apiserver's legacy static auth files: ``basic_auth.csv`` and ``known_tokens.csv``.

Both have the form the apiserver reads (``--basic-auth-file``, ``--token-auth-file``):
``secret,user,uid[,"group1,group2"]``, one user a line. A user's secret is generated once and kept
for as long as the user is listed; adding a user adds only that line, removing one removes only it.
"""

from __future__ import annotations


import csv
import io
import secrets


def generate_secret():
    """32 URL-safe random characters (192 bits): no comma or quote to upset a CSV reader."""
    return secrets.token_urlsafe(24)


def parse(data):
    """{user: secret} from an existing file's bytes; lines that cannot be read are skipped."""
    found = {}
    if not data:
        return found
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return found
    for row in csv.reader(io.StringIO(text)):
        if len(row) >= 3 and row[0].strip() and row[1].strip():
            found.setdefault(row[1].strip(), row[0].strip())
    return found


def render(entries, existing, secret_key):
    """(file bytes, added user names, removed user names) for the desired ``entries``.

    ``entries``: dicts with ``name``, optional ``uid`` (default: the name), ``groups`` and an
    explicit secret under ``secret_key`` (``password`` or ``token``); ``existing``: bytes or None.
    """
    known = parse(existing)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    added = []
    for entry in entries:
        name = entry["name"]
        secret = entry.get(secret_key) or known.get(name) or generate_secret()
        if name not in known:
            added.append(name)
        row = [secret, name, entry.get("uid") or name]
        groups = entry.get("groups") or []
        if groups:
            row.append(",".join(groups))
        writer.writerow(row)
    wanted = set(e["name"] for e in entries)
    removed = sorted(n for n in known if n not in wanted)
    return out.getvalue().encode("utf-8"), added, removed


def users_of(data):
    """User names in a file, in order, for diffs (never the secrets)."""
    return list(parse(data).keys())


def validate(entries, what):
    """Error messages for entries a CSV line cannot hold, or duplicate names."""
    errors = []
    seen = set()
    for entry in entries:
        name = entry.get("name") or ""
        fields = [name, entry.get("uid") or ""] + list(entry.get("groups") or [])
        for key in ("password", "token"):
            if entry.get(key):
                fields.append(entry[key])
        if not name:
            errors.append("%s: an entry has an empty name" % what)
        elif name in seen:
            errors.append("%s: user %r is listed twice" % (what, name))
        seen.add(name)
        for field in fields:
            if any(ch in field for ch in ',"\n\r'):
                errors.append("%s: user %r has a value with a comma, quote or newline; the CSV the apiserver reads cannot hold it" % (what, name))
                break
    return errors
