# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A daemon's files: plan from content and attributes, validate every candidate, then write atomically.

Nothing is written before every changed file has passed its validation, so a bad template changes
nothing on the host. Files are replaced by rename from a temporary file in the same directory, with
mode and owner set before the rename: a reader never sees a half-written or wrongly-owned file.
"""

from __future__ import annotations


import base64
import grp
import os
import pwd
import re
import shlex
import shutil
import stat
import tempfile

from .common import DaemonError, inputs_digest, run, sha256_bytes, sha256_file, tail

DIGEST_TOKEN = "@@inputs_digest@@"
DIFF_LIMIT = 256 * 1024
STATES = ("file", "directory", "absent", "touch")
# systemd-analyze verify on a unit whose ExecStart= binary is installed by the same call
MISSING_COMMAND = re.compile(r"Command (/\S+) is not executable: No such file or directory")


def parse_mode(value, where):
    """'0644', '644' or an int (the mode itself) -> int."""
    if value is None:
        return None
    if isinstance(value, int):
        mode = value
    else:
        text = str(value).strip()
        try:
            mode = int(text, 8)
        except ValueError:
            raise DaemonError("%s: mode %r is not an octal mode; write it quoted, like \"0644\"" % (where, value)) from None
    if mode < 0 or mode > 0o7777:
        raise DaemonError("%s: mode %r is out of range; use an octal mode like \"0644\"" % (where, value))
    return mode


def _uid(name, where):
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        raise DaemonError("%s: owner '%s' does not exist on this host; create the user first (or set owner)" % (where, name)) from None


def _gid(name, where):
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        raise DaemonError("%s: group '%s' does not exist on this host; create the group first (or set group)" % (where, name)) from None


def kept_lines(data, path, pattern, where):
    """``data`` with its lines that match ``pattern`` replaced by the matching lines of the file at ``path``, put where
    the first of them was. Unchanged when the file is missing or when either side has no matching line."""
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise DaemonError("%s: keep_lines %r is not a regular expression: %s" % (where, pattern, exc)) from None
    try:
        with open(path, "rb") as handle:
            old = handle.read().decode("utf-8", "replace").splitlines(True)
    except (IOError, OSError):
        return data
    kept = [line for line in old if regex.search(line.rstrip("\n"))]
    new = data.decode("utf-8").splitlines(True)
    at = [i for i, line in enumerate(new) if regex.search(line.rstrip("\n"))]
    if not kept or not at:
        return data
    skip = set(at)
    rest = [line for i, line in enumerate(new) if i not in skip]
    first = at[0]
    return "".join(rest[:first] + kept + rest[first:]).encode("utf-8")


class FileItem:
    """One entry of ``files``, checked and with its desired bytes loaded."""

    def __init__(self, index, raw):
        self.index = index
        self.path = raw.get("path") or ""
        self.where = "files[%d] %s" % (index, self.path or "(no path)")
        if not os.path.isabs(self.path):
            raise DaemonError("%s: path must be absolute" % self.where)
        self.path = os.path.normpath(self.path)
        self.state = raw.get("state") or "file"
        if self.state not in STATES:
            raise DaemonError("%s: state is '%s'; use one of %s" % (self.where, self.state, ", ".join(STATES)))
        self.mode = parse_mode(raw.get("mode"), self.where)
        if self.mode is None and self.state != "absent":
            raise DaemonError("%s: mode is required (quoted octal, like \"0644\")" % self.where)
        self.owner = raw.get("owner") or "root"
        self.group = raw.get("group") or "root"
        self.validate = raw.get("validate") or ""
        self.restarts = list(raw.get("restarts") or [])
        self.reloads = list(raw.get("reloads") or [])
        self.secret = bool(raw.get("secret"))
        self.digest_of = list(raw.get("digest_of") or [])
        self.keep_lines = raw.get("keep_lines") or ""
        self.checksum = raw.get("checksum") or ""
        self.staged = raw.get("staged") or ""
        self.data = None
        sources = [k for k in ("content", "content_base64", "staged") if raw.get(k) is not None]
        if self.state == "file":
            if raw.get("content") is not None:
                self.data = raw["content"].encode("utf-8") if not isinstance(raw["content"], bytes) else raw["content"]
            elif raw.get("content_base64") is not None:
                self.data = base64.b64decode(raw["content_base64"])
            elif self.staged:
                try:
                    with open(self.staged, "rb") as handle:
                        self.data = handle.read()
                except (IOError, OSError) as exc:
                    raise DaemonError("%s: the transferred copy %s cannot be read: %s" % (self.where, self.staged, exc.strerror)) from None
            elif not self.checksum:
                raise DaemonError("%s: a file needs content, content_base64, template or src" % self.where)
            if len(sources) > 1:
                raise DaemonError("%s: give only one of content, content_base64, template or src" % self.where)
            if self.data is not None and self.checksum and sha256_bytes(self.data) != self.checksum:
                raise DaemonError("%s: the transferred copy does not match its sha256 %s; run again" % (self.where, self.checksum))
            if self.digest_of:
                if self.data is None:
                    raise DaemonError("%s: digest_of works on content or a template, not on a transferred file" % self.where)
                if DIGEST_TOKEN.encode() not in self.data:
                    raise DaemonError("%s: digest_of is set but the content has no %s to replace" % (self.where, DIGEST_TOKEN))
                self.data = self.data.replace(DIGEST_TOKEN.encode(), inputs_digest(self.digest_of).encode())
            if self.keep_lines:
                if self.data is None:
                    raise DaemonError("%s: keep_lines works on content or a template, not on a transferred file" % self.where)
                self.data = kept_lines(self.data, self.path, self.keep_lines, self.where)
        elif sources or self.checksum:
            raise DaemonError("%s: state %s takes no content" % (self.where, self.state))
        if self.state != "absent":
            self.uid = _uid(self.owner, self.where)
            self.gid = _gid(self.group, self.where)

    @property
    def sha256(self):
        """The desired content's sha256 (None for directories and absent files)."""
        if self.state != "file":
            return None
        return self.checksum if self.data is None else sha256_bytes(self.data)


class Change:
    """What one item needs: action is one of none, create, update, attributes, remove, transfer."""

    def __init__(self, item, action, before=None, attrs=None):
        self.item = item
        self.action = action
        self.laid_out = False  # written before the validations (validate_with_new_files)
        self.before = before  # bytes of the current file when its content changes (for diff)
        self.attrs = attrs  # (mode, uid, gid) now, or None when absent

    @property
    def changed(self):
        return self.action != "none"

    @property
    def content_changed(self):
        return self.action in ("create", "update", "transfer")


def _attrs(path):
    try:
        st = os.lstat(path)
    except (IOError, OSError):
        return None, None
    return st, (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)


def plan_item(item):
    st, attrs = _attrs(item.path)
    want = None if item.state == "absent" else (item.mode, item.uid, item.gid)
    if item.state == "absent":
        if st is None:
            return Change(item, "none")
        if stat.S_ISDIR(st.st_mode):
            raise DaemonError("%s: state absent removes files, but this is a directory; remove it by hand if it must go" % item.where)
        return Change(item, "remove", attrs=attrs)
    if item.state == "directory":
        if st is None:
            return Change(item, "create")
        if not stat.S_ISDIR(st.st_mode):
            raise DaemonError("%s: wanted a directory, found a file there; move it away" % item.where)
        return Change(item, "none" if attrs == want else "attributes", attrs=attrs)
    if st is not None and not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
        raise DaemonError("%s: wanted a file, found %s there; move it away" % (item.where, "a directory" if stat.S_ISDIR(st.st_mode) else "a special file"))
    if item.state == "touch":
        if st is None:
            return Change(item, "create")
        return Change(item, "none" if attrs == want and stat.S_ISREG(st.st_mode) else "attributes", attrs=attrs)
    if st is None:
        return Change(item, "create" if item.data is not None else "transfer")
    current = sha256_file(item.path) if stat.S_ISREG(st.st_mode) else None
    if current != item.sha256 or stat.S_ISLNK(st.st_mode):
        before = None
        if not item.secret and st.st_size <= DIFF_LIMIT and stat.S_ISREG(st.st_mode):
            with open(item.path, "rb") as handle:
                before = handle.read()
        return Change(item, "update" if item.data is not None else "transfer", before=before, attrs=attrs)
    return Change(item, "none" if attrs == want else "attributes", attrs=attrs)


def plan(items):
    """Changes for every item, in order (parents missing on the host are reported as created)."""
    return [plan_item(item) for item in items]


def missing_parents(changes):
    """Directories missing on the host, above what is created, that are not items themselves (made 0755 root)."""
    planned = set(c.item.path for c in changes if c.item.state == "directory")
    out = []
    for change in changes:
        if change.action not in ("create", "transfer"):
            continue
        parent = os.path.dirname(change.item.path)
        chain = []
        while parent not in ("", "/") and not os.path.isdir(parent) and parent not in planned:
            chain.append(parent)
            parent = os.path.dirname(parent)
        for path in reversed(chain):
            if path not in out:
                out.append(path)
    return sorted(out, key=lambda p: p.count("/"))


def _systemd_validate(candidate, spec, where, coming=frozenset(), check_mode=False, units=None):
    """Check a unit file (``systemd:UNIT``) or a drop-in (``systemd:UNIT:DROPIN``) with systemd-analyze verify.

    systemd-analyze exits 0 on unknown keys and unparsable values; any message naming the unit fails too.
    A command that does not exist yet but is one of ``coming`` (executables this call writes) is not a fault.
    ``units`` ({unit name: content}) are the other unit files this call writes: they are checked beside this one, so a
    unit bound to one of them (BindsTo=, through a drop-in already on the host) is not refused because the other is
    not installed yet.
    In check mode a missing command may be one an earlier role only reported (its binaries): when that is
    all systemd-analyze found, the verdict is left open (returned as the reason) instead of failing.
    """
    parts = spec.split(":")
    unit = parts[1] if len(parts) > 1 else ""
    dropin = parts[2] if len(parts) > 2 else ""
    if not unit:
        raise DaemonError("%s: validate '%s' names no unit; use systemd:UNIT or systemd:UNIT:DROPIN" % (where, spec))
    work = tempfile.mkdtemp(prefix="kubeha-verify-")
    try:
        if dropin:
            rc, out, _err = run(["systemctl", "show", "-P", "FragmentPath", unit])
            frag = out.strip()
            if rc != 0 or not frag or not os.path.isfile(frag):
                raise DaemonError("%s: %s has no unit file to apply the drop-in %s to; install its package first" % (where, unit, dropin))
            shutil.copy(frag, os.path.join(work, unit))
            os.mkdir(os.path.join(work, unit + ".d"))
            shutil.copy(candidate, os.path.join(work, unit + ".d", dropin))
        else:
            shutil.copy(candidate, os.path.join(work, unit))
        for other, data in sorted((units or {}).items()):
            if other != unit:
                with open(os.path.join(work, other), "wb") as handle:
                    handle.write(data)
        rc, out, err = run(["systemd-analyze", "verify", "--man=no", os.path.join(work, unit)], env={"SYSTEMD_UNIT_PATH": work + ":"})
        text = (out + "\n" + err).strip()
        msgs = [line for line in text.splitlines() if work + "/" in line or (unit + ":") in line]
        waived = [line for line in msgs if MISSING_COMMAND.search(line) and MISSING_COMMAND.search(line).group(1) in coming]
        msgs = [line for line in msgs if line not in waived]
        missing = sorted(set(MISSING_COMMAND.search(line).group(1) for line in msgs if MISSING_COMMAND.search(line)))
        if check_mode and msgs and len(missing) == len(msgs):
            return "%s: systemd-analyze verify %s not decided in check mode: %s not installed yet" % (
                where, unit, ", ".join(missing))
        if msgs or (rc != 0 and not waived):
            raise DaemonError("%s: systemd-analyze verify %s%s refused it: %s; nothing was written" % (
                where, unit, " (drop-in %s)" % dropin if dropin else "", tail(text.replace(work + "/", ""))))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return None


def validate(changes, check_mode=False):
    """Run every changed file's validation on a temporary copy; raises before anything is written.

    Returns why some validation was not decided (check mode only), or None.
    """
    coming = frozenset(c.item.path for c in changes if c.item.state == "file" and c.content_changed and c.item.mode & 0o111)
    # the unit files this call writes (validated as units), each checked with the others beside it
    units = dict((c.item.validate.split(":")[1], c.item.data) for c in changes
                 if c.item.state == "file" and c.content_changed and c.item.data is not None
                 and c.item.validate.startswith("systemd:") and len(c.item.validate.split(":")) == 2)
    undecided = []
    for change in changes:
        item = change.item
        if not item.validate or not change.content_changed or item.data is None:
            continue
        work = tempfile.mkdtemp(prefix="kubeha-validate-")
        try:
            candidate = os.path.join(work, os.path.basename(item.path))
            with open(candidate, "wb") as handle:
                handle.write(item.data)
            os.chmod(candidate, item.mode)
            if item.validate.startswith("systemd:"):
                open_verdict = _systemd_validate(candidate, item.validate, item.where, coming, check_mode, units)
                if open_verdict:
                    undecided.append(open_verdict)
                continue
            if "%s" not in item.validate:
                raise DaemonError("%s: validate '%s' has no %%s for the candidate file" % (item.where, item.validate))
            argv = [candidate if word == "%s" else word.replace("%s", candidate) for word in shlex.split(item.validate)]
            rc, out, err = run(argv)
            if rc != 0:
                raise DaemonError("%s: validation '%s' failed (rc %d): %s; nothing was written" % (
                    item.where, item.validate, rc, tail((err + "\n" + out).replace(candidate, item.path)) or "no output"))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return "; ".join(undecided) or None


def new_plain_files(changes):
    """Files this call creates that have no validation of their own and whose directory exists."""
    return [c for c in changes if c.action == "create" and c.item.state == "file" and c.item.data is not None
            and not c.item.validate and os.path.isdir(os.path.dirname(c.item.path))]


def validate_with_new_files(changes, check_mode, undecided=()):
    """validate(), with this call's new plain files on the host while the validations run.

    A configuration may name a file the same call creates (haproxy's CA): those files are laid out
    first. They are new, so nothing on the host is replaced; if a validation fails they are removed
    again and nothing is left. In check mode they cannot be laid out: a failing validation then
    returns why it was not decided (the file it may need is not there yet) instead of failing, and so
    does one while ``undecided`` names files an earlier stage only reported (their sources are not there).
    """
    new = new_plain_files(changes)
    if check_mode:
        try:
            return validate(changes, check_mode=True)
        except DaemonError as exc:
            missing = [c.item.path for c in new] + list(undecided)
            if not missing:
                raise
            return "%s (files this call creates are not on the host yet: %s; the validation runs with them in the real run)" % (
                exc, ", ".join(missing))
    laid_out = []
    try:
        for change in new:
            _write_atomic(change.item)
            laid_out.append(change)
            change.laid_out = True
        validate(changes)
    except BaseException:
        for change in laid_out:
            change.laid_out = False
            if os.path.exists(change.item.path):
                os.unlink(change.item.path)
        raise
    return None


def _write_atomic(item):
    directory = os.path.dirname(item.path)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(item.path) + ".", suffix=".kubeha", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(item.data if item.data is not None else b"")
            handle.flush()
            os.fchmod(handle.fileno(), item.mode)
            os.fchown(handle.fileno(), item.uid, item.gid)
            os.fsync(handle.fileno())
        os.replace(tmp, item.path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _apply_one(change):
    item = change.item
    if change.action == "remove":
        os.unlink(item.path)
    elif item.state == "directory":
        if change.action == "create":
            os.mkdir(item.path, item.mode)
        os.chown(item.path, item.uid, item.gid)
        os.chmod(item.path, item.mode)
    elif change.action in ("create", "update"):
        _write_atomic(item)
    elif change.action == "attributes":
        if os.path.islink(item.path):  # a touch target that is a link: replace it by an empty file
            _write_atomic(item)
        else:
            os.chown(item.path, item.uid, item.gid)
            os.chmod(item.path, item.mode)
    else:
        raise DaemonError("%s: the file's content was not transferred; run again" % item.where)


def apply(changes):
    """Write what the plan says: directories (missing parents 0755 root:root, then items) by depth, then files in order.

    Returns the parent directories that were created.
    """
    parents = missing_parents(changes)
    dirs = [(path, None) for path in parents] + [(c.item.path, c) for c in changes if c.item.state == "directory"]
    ordered = [c for _p, c in sorted(dirs, key=lambda pc: pc[0].count("/"))] + [c for c in changes if c.item.state != "directory"]
    parent_iter = iter(sorted(parents, key=lambda p: p.count("/")))
    for change in ordered:
        try:
            if change is None:
                path = next(parent_iter)
                os.mkdir(path, 0o755)
                os.chmod(path, 0o755)
            elif change.action != "none" and not getattr(change, "laid_out", False):
                _apply_one(change)
        except (IOError, OSError) as exc:
            where = change.item.where if change is not None else "parent directory %s" % path
            raise DaemonError("%s: cannot write it: %s" % (where, exc.strerror or exc)) from None
    return parents


def _mode_text(attrs):
    if attrs is None:
        return "absent"
    mode, uid, gid = attrs
    try:
        owner = pwd.getpwuid(uid).pw_name
    except KeyError:
        owner = str(uid)
    try:
        group = grp.getgrgid(gid).gr_name
    except KeyError:
        group = str(gid)
    return "mode %04o owner %s group %s" % (mode, owner, group)


def _text(data):
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def diffs(changes):
    """Ansible diff entries for the changed items: text content, or what else changes (never secrets)."""
    out = []
    for change in changes:
        item = change.item
        if not change.changed:
            continue
        want = "absent" if item.state == "absent" else _mode_text((item.mode, item.uid, item.gid))
        entry = {"before_header": item.path, "after_header": item.path}
        if item.state == "file" and change.content_changed:
            before = _text(change.before) if change.before is not None else None
            after = _text(item.data) if item.data is not None and len(item.data) <= DIFF_LIMIT else None
            if item.secret:
                entry["before"] = "(secret content, %s)\n" % _mode_text(change.attrs)
                entry["after"] = "(secret content changed, %s)\n" % want
            elif before is not None and after is not None or (change.action == "create" and after is not None):
                entry["before"] = before or ""
                entry["after"] = after
            else:
                entry["before"] = "absent\n" if change.attrs is None else "(content sha256 %s, %s)\n" % (
                    sha256_file(item.path) or "-", _mode_text(change.attrs))
                entry["after"] = "(content sha256 %s, %s)\n" % (item.sha256, want)
        else:
            entry["before"] = "%s (%s)\n" % ("absent" if change.attrs is None else "present", _mode_text(change.attrs))
            entry["after"] = "%s (%s)\n" % (item.state, want)
        out.append(entry)
    return out
