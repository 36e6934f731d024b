"""basic_auth.csv / known_tokens.csv: the apiserver's format, secrets generated once and kept."""

from __future__ import annotations

import csv
import io

from ansible_collections.kubeha.cluster.plugins.module_utils._pki import authfiles


def _rows(data):
    return list(csv.reader(io.StringIO(data.decode())))


def test_format_the_apiserver_reads():
    data, added, removed = authfiles.render([dict(name="admin", groups=["system:masters", "ops"]), dict(name="kubelet", uid="42")],
                                            None, "password")
    rows = _rows(data)
    assert [r[1:] for r in rows] == [["admin", "admin", "system:masters,ops"], ["kubelet", "42"]]
    assert b'"system:masters,ops"' in data  # the groups column is one quoted CSV field
    assert all(len(r[0]) == 32 for r in rows) and rows[0][0] != rows[1][0]
    assert added == ["admin", "kubelet"] and removed == []


def test_secrets_are_stable_and_adding_a_user_adds_only_that_user(params, run, tmp_path):
    users = [dict(name="admin", groups=["system:masters"])]
    run(params(basic_auth_users=users, tokens=users))
    path = tmp_path / "secrets" / "auth" / "basic_auth.csv"
    first = path.read_bytes()
    assert not run(params(basic_auth_users=users, tokens=users)).changed
    result = run(params(basic_auth_users=users + [dict(name="ops")], tokens=users))
    assert result.changes() == {"auth/basic_auth.csv": "updated"}
    assert result.reasons("auth/basic_auth.csv") == "users added: ops"
    assert result.engine.after["auth/basic_auth.csv"] == {"users": ["admin", "ops"]}
    assert path.read_bytes().startswith(first)  # admin's line, password included, untouched
    result = run(params(basic_auth_users=[dict(name="ops")], tokens=users))
    assert result.reasons("auth/basic_auth.csv") == "users removed: admin"
    ops_secret = _rows(path.read_bytes())[0][0]
    assert ops_secret not in first.decode()
    assert (path.stat().st_mode & 0o777) == 0o600


def test_given_secret_is_used_and_bad_values_refused():
    data, _added, _removed = authfiles.render([dict(name="admin", token="s3cr3t-token")], b"old,admin,admin\n", "token")
    assert data == b"s3cr3t-token,admin,admin\n"
    errors = authfiles.validate([dict(name="a,b"), dict(name="x"), dict(name="x", groups=['g"1'])], "tokens")
    assert len(errors) == 3 and "comma, quote or newline" in errors[0] and "listed twice" in errors[1]
