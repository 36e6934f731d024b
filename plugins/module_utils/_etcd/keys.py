# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""etcd_key and etcd_key_info: put, delete and compare-and-swap of one key (idempotent, check-mode aware); reads."""

from __future__ import annotations

from .client import EtcdConfigError, EtcdError, KeyValue
from .common import client_from_params


def _kv(kv):
    return kv.as_dict() if kv is not None else None


def _diff(before, after):
    return {"before": {"key": before.key, "value": before.value} if before else {},
            "after": {"key": after.key, "value": after.value} if after else {}}


def _compare_holds(current, prev_value, prev_revision):
    if prev_value is not None and (current is None or current.value != prev_value):
        return False
    if prev_revision is not None:
        if prev_revision == 0:
            return current is None
        if current is None or current.mod_revision != prev_revision:
            return False
    return True


def _compare_text(prev_value, prev_revision):
    parts = []
    if prev_value is not None:
        parts.append("value %r" % prev_value)
    if prev_revision is not None:
        parts.append("mod_revision %d" % prev_revision if prev_revision else "the key to be absent")
    return " and ".join(parts)


def _current_text(current):
    if current is None:
        return "the key does not exist"
    return "current value %r at mod_revision %d" % (current.value, current.mod_revision)


def run_key(params, check_mode=False):
    """etcd_key: the result dict, or raise EtcdError."""
    key = params["key"]
    state = params.get("state") or "present"
    value = params.get("value")
    create_only = bool(params.get("create_only"))
    prev_value = params.get("prev_value")
    prev_revision = params.get("prev_revision")
    if not key:
        raise EtcdConfigError("key must not be empty")
    if state != "present" and create_only:
        raise EtcdConfigError("create_only only applies to state=present (state is %s)" % state)
    if state == "absent" and value is not None:
        raise EtcdConfigError("value does not apply to state=absent (use prev_value to delete only a given value)")
    if prev_revision is not None and prev_revision < 0:
        raise EtcdConfigError("prev_revision must be 0 (key absent) or a revision, got %d" % prev_revision)
    client = client_from_params(params)
    current = client.get_one(key)
    result = {"changed": False, "found": current is not None, "succeeded": True, "previous": _kv(current),
              "kv": _kv(current)}

    if state == "present":
        _present(client, params, current, result, check_mode)
    else:
        _absent(client, params, current, result, check_mode)
    result["revision"] = client.revision
    result["endpoint"] = client.last_endpoint
    return result


def _present(client, params, current, result, check_mode):
    key, value = params["key"], params["value"]
    create_only = bool(params.get("create_only"))
    prev_value, prev_revision = params.get("prev_value"), params.get("prev_revision")
    if current is not None and current.value == value:
        return  # already there: nothing to compare-and-swap either
    if create_only and current is not None:
        result["succeeded"] = False
        return
    cas = create_only or prev_value is not None or prev_revision is not None
    if cas and not _compare_holds(current, prev_value, prev_revision):
        raise EtcdError("compare failed for %s: expected %s, but %s. Nothing was written; read the key again and "
                        "retry with the current value or revision." % (key, _compare_text(prev_value, prev_revision),
                                                                       _current_text(current)),
                        found=current is not None, kv=_kv(current), previous=_kv(current))
    after = KeyValue(key, value, current.create_revision if current else 0, 0, (current.version if current else 0) + 1,
                     current.lease if current else 0)
    result["changed"] = True
    if not check_mode:
        if cas:
            ok, after = client.put_if(key, value, create_only=create_only, prev_value=prev_value,
                                      prev_revision=prev_revision)
            if not ok:
                if create_only:
                    # someone created it between our read and the transaction: that is create_only's answer
                    result.update(changed=False, succeeded=False, kv=_kv(after), found=True, previous=_kv(after))
                    return
                raise EtcdError("compare failed for %s (changed concurrently): expected %s, but %s. Nothing was "
                                "written." % (key, _compare_text(prev_value, prev_revision), _current_text(after)),
                                found=after is not None, kv=_kv(after), previous=_kv(after))
        else:
            client.put(key, value)
            after = client.get_one(key)
    result["kv"] = _kv(after)
    result["diff"] = _diff(current, after)


def _absent(client, params, current, result, check_mode):
    key = params["key"]
    prev_value, prev_revision = params.get("prev_value"), params.get("prev_revision")
    if current is None:
        return
    cas = prev_value is not None or prev_revision is not None
    if cas and not _compare_holds(current, prev_value, prev_revision):
        raise EtcdError("compare failed for %s: expected %s, but %s. Nothing was deleted." % (
            key, _compare_text(prev_value, prev_revision), _current_text(current)),
            found=True, kv=_kv(current), previous=_kv(current))
    result["changed"] = True
    result["kv"] = None
    result["diff"] = _diff(current, None)
    if check_mode:
        return
    if cas:
        ok, seen = client.delete_if(key, prev_value=prev_value, prev_revision=prev_revision)
        if not ok:
            raise EtcdError("compare failed for %s (changed concurrently): expected %s, but %s. Nothing was deleted."
                            % (key, _compare_text(prev_value, prev_revision), _current_text(seen)),
                            found=seen is not None, kv=_kv(seen), previous=_kv(current))
    else:
        client.delete(key)


def run_key_info(params):
    """etcd_key_info: the key (or every key under a prefix), read-only."""
    key = params["key"]
    if not key:
        raise EtcdConfigError("key must not be empty")
    client = client_from_params(params)
    prefix = bool(params.get("prefix"))
    kvs = client.get(key, prefix=prefix)
    exact = next((kv for kv in kvs if kv.key == key), None)
    return {"changed": False, "found": exact is not None if not prefix else bool(kvs), "kv": _kv(exact),
            "kvs": [kv.as_dict() for kv in kvs], "count": len(kvs), "revision": client.revision,
            "endpoint": client.last_endpoint}
