# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read an etcd snapshot (a bbolt database) on the standard library: what ``etcdutl snapshot status`` shows.

The same figures as etcdutl 3.6 (``hash``: CRC-32C over every bucket's name, keys and values in order;
``revision``: the newest revision in the ``key`` bucket; ``total_key``: live keys, where etcdutl 3.5
counts every entry of every bucket; ``total_size``: the database's pages), for 3.5 and 3.6 snapshots,
plus the integrity of the sha256 that etcd appends to a snapshot it streams. Reading every page also
proves the file is a whole database, so a snapshot is checked on the host that took it without etcdutl (static pods have none on the host).

Only what etcd's databases use is read: buckets at the top level (no nested ones), branch and leaf pages,
inline buckets. Anything else is reported as a :class:`SnapshotError` naming the page.
"""

from __future__ import annotations

import hashlib
import os
import struct

__all__ = ["SnapshotError", "crc32c", "read_status", "split_trailer"]

MAGIC = 0xED0CDAED
BRANCH, LEAF, META = 0x01, 0x02, 0x04
BUCKET_LEAF = 0x01
PAGE_HEADER = struct.Struct("<QHHI")        # id, flags, count, overflow
META_BODY = struct.Struct("<IIIIQQQQQQ")    # magic, version, page size, flags, root, sequence, freelist, pgid, txid, checksum
ELEMENT = struct.Struct("<IIII")            # leaf: flags, pos, ksize, vsize; branch: pos, ksize, pgid (u64)
SHA256_SIZE = 32


class SnapshotError(Exception):
    """The file is not a whole etcd snapshot; the message says what is wrong and where."""


def _crc32c_table():
    table = []
    for n in range(256):
        c = n
        for _bit in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c(data, crc=0):
    """CRC-32C (Castagnoli), continuing from ``crc`` (Go's crc32.Update with the Castagnoli table)."""
    crc ^= 0xFFFFFFFF
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _fnv64a(data):
    value = 0xCBF29CE484222325
    for byte in data:
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return value


def split_trailer(size):
    """``(database size, has sha256 trailer)`` for a snapshot file of ``size`` bytes (etcdutl's own rule)."""
    if size % 512 == SHA256_SIZE:
        return size - SHA256_SIZE, True
    return size, False


class _Db:
    def __init__(self, data):
        self.data = data
        self.page_size, self.root, self.pages = self._meta()

    def _read_meta(self, offset):
        """``(page size, root, pgid, txid)`` of the meta page at ``offset``, or None when it is not a valid one."""
        body = bytes(self.data[offset + PAGE_HEADER.size:offset + PAGE_HEADER.size + META_BODY.size])
        if len(body) < META_BODY.size:
            return None
        magic, version, page_size, _flags, root, _seq, _free, pgid, txid, checksum = META_BODY.unpack(body)
        if magic != MAGIC or version != 2 or _fnv64a(body[:-8]) != checksum:
            return None
        return page_size, root, pgid, txid

    def _meta(self):
        """The newer valid of the two meta pages (bbolt's own choice); the second sits one page in."""
        first = self._read_meta(0)
        second = self._read_meta(first[0] if first else 4096)
        valid = [m for m in (first, second) if m]
        if not valid:
            raise SnapshotError("not an etcd snapshot: no valid bbolt meta page (wrong magic, version or checksum)")
        page_size, root, pgid, _txid = max(valid, key=lambda m: m[3])
        if page_size < 512 or page_size & (page_size - 1):
            raise SnapshotError("the bbolt meta page names a page size of %d" % page_size)
        if pgid * page_size > len(self.data):
            raise SnapshotError("the database is cut short: its meta page counts %d pages of %d bytes (%d bytes), the file "
                                "holds %d" % (pgid, page_size, pgid * page_size, len(self.data)))
        return page_size, root, pgid

    def page(self, pgid):
        if not 2 <= pgid < self.pages:
            raise SnapshotError("a page reference points outside the database (page %d of %d)" % (pgid, self.pages))
        offset = pgid * self.page_size
        _id, flags, count, overflow = PAGE_HEADER.unpack_from(self.data, offset)
        if _id != pgid:
            raise SnapshotError("page %d says it is page %d" % (pgid, _id))
        return self.data, offset, flags, count, overflow

    def items(self, pgid, data=None, offset=None):
        """``(key, value, flags)`` of a bucket whose root is page ``pgid`` (or the inline page at ``data[offset:]``)."""
        if data is None:
            data, offset, flags, count, _overflow = self.page(pgid)
        else:
            _id, flags, count, _overflow = PAGE_HEADER.unpack_from(data, offset)
        base = offset + PAGE_HEADER.size
        if flags & LEAF:
            for i in range(count):
                at = base + i * ELEMENT.size
                eflags, pos, ksize, vsize = ELEMENT.unpack_from(data, at)
                start = at + pos
                yield data[start:start + ksize], data[start + ksize:start + ksize + vsize], eflags
        elif flags & BRANCH:
            for i in range(count):
                at = base + i * ELEMENT.size
                _pos, _ksize, child = struct.unpack_from("<IIQ", data, at)
                yield from self.items(child)
        else:
            raise SnapshotError("page %d is neither a branch nor a leaf page (flags %#x)" % (pgid, flags))

    def bucket(self, value):
        """The items of the bucket whose header is ``value`` (a nested page, or inline after the header)."""
        root, _sequence = struct.unpack_from("<QQ", value, 0)
        if root == 0:
            return self.items(0, value, 16)
        return self.items(root)


def _varint(data, at):
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7


def _kv_key(value):
    """Field 1 (key) of an mvccpb.KeyValue."""
    at = 0
    while at < len(value):
        tag, at = _varint(value, at)
        field, wire = tag >> 3, tag & 7
        if wire == 2:
            size, at = _varint(value, at)
            if field == 1:
                return bytes(value[at:at + size])
            at += size
        elif wire == 0:
            _ignored, at = _varint(value, at)
        else:
            raise SnapshotError("a value in the key bucket is not an etcd KeyValue (wire type %d)" % wire)
    return b""


def read_status(path):
    """What ``etcdutl snapshot status`` reports for the snapshot at ``path``, plus its trailer's integrity.

    Returns ``hash`` (int), ``revision``, ``total_key``, ``total_size``, ``version`` (the storage version, empty
    before 3.6), ``file_size``, ``sha256_trailer`` (``ok`` or ``none``: a file copied from a member's data dir
    has none) and ``sha256`` of the whole file. Raises :class:`SnapshotError` when the file is not a whole
    snapshot (a trailer that does not match, a database cut short, a page that is not one).
    """
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise SnapshotError("cannot read %s: %s" % (path, exc.strerror or exc)) from None
    size, trailer = split_trailer(len(raw))
    data = memoryview(raw)[:size]
    if trailer and hashlib.sha256(data).digest() != raw[size:]:
        raise SnapshotError("%s: the sha256 etcd appended does not match the database: the file is damaged or cut short"
                            % path)
    try:
        db = _Db(data)
        crc = 0
        revision = 0
        live = set()
        version = ""
        for name, value, flags in db.items(db.root):
            if not flags & BUCKET_LEAF:
                raise SnapshotError("a top-level entry is not a bucket (%r)" % bytes(name))
            crc = crc32c(name, crc)
            is_key = bytes(name) == b"key"
            for key, val, eflags in db.bucket(value):
                crc = crc32c(key, crc)
                if eflags & BUCKET_LEAF:
                    continue  # bbolt's ForEach gives a nested bucket no value; etcd has none
                crc = crc32c(val, crc)
                if is_key:
                    revision = struct.unpack_from(">Q", key, 0)[0]
                    name_of = _kv_key(val)
                    if len(key) == 18 and key[17:18] == b"t":
                        live.discard(name_of)
                    else:
                        live.add(name_of)
                elif bytes(name) == b"meta" and bytes(key) == b"storageVersion":
                    version = bytes(val).decode("ascii", "replace")
    except (struct.error, IndexError) as exc:
        raise SnapshotError("%s: a page or element runs past the end of the database (%s)" % (path, exc)) from None
    return {"hash": crc, "revision": revision, "total_key": len(live), "total_size": db.pages * db.page_size,
            "version": version, "file_size": len(raw), "sha256_trailer": "ok" if trailer else "none",
            "sha256": hashlib.sha256(raw).hexdigest(), "path": os.path.abspath(path)}
