"""_daemon.files: content and attribute plans, validation before any write, atomic writes, diffs."""

from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.kubeha.cluster.plugins.module_utils._daemon import files as F
from ansible_collections.kubeha.cluster.plugins.module_utils._daemon.common import DaemonError, inputs_digest


def items(*raws):
    return [F.FileItem(i, raw) for i, raw in enumerate(raws)]


def converge(*raws):
    changes = F.plan(items(*raws))
    F.validate(changes)
    F.apply(changes)
    return {c.item.path: c.action for c in changes}


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_first_run_creates_second_changes_nothing(tmp_path):
    spec = (dict(path=str(tmp_path / "etc"), state="directory", mode="0750"),
            dict(path=str(tmp_path / "etc/a.conf"), content="a=1\n", mode="0600"),
            dict(path=str(tmp_path / "log/x.log"), state="touch", mode="0640"),
            dict(path=str(tmp_path / "old.conf"), state="absent"))
    (tmp_path / "old.conf").write_text("stale")
    assert converge(*spec) == {str(tmp_path / "etc"): "create", str(tmp_path / "etc/a.conf"): "create",
                               str(tmp_path / "log/x.log"): "create", str(tmp_path / "old.conf"): "remove"}
    assert (tmp_path / "etc/a.conf").read_text() == "a=1\n" and mode(tmp_path / "etc/a.conf") == 0o600
    assert mode(tmp_path / "etc") == 0o750 and mode(tmp_path / "log") == 0o755, "a missing parent is made 0755"
    assert not (tmp_path / "old.conf").exists()
    assert set(converge(*spec).values()) == {"none"}


def test_touch_keeps_content_and_content_change_is_an_update(tmp_path):
    log = tmp_path / "x.log"
    log.write_text("kept")
    os.chmod(log, 0o644)
    assert converge(dict(path=str(log), state="touch", mode="0600")) == {str(log): "attributes"}
    assert log.read_text() == "kept" and mode(log) == 0o600
    conf = tmp_path / "c.conf"
    converge(dict(path=str(conf), content="one\n", mode="0644"))
    assert converge(dict(path=str(conf), content="two\n", mode="0644")) == {str(conf): "update"}
    assert conf.read_text() == "two\n"
    os.chmod(conf, 0o666)
    assert converge(dict(path=str(conf), content="two\n", mode="0644")) == {str(conf): "attributes"}
    assert mode(conf) == 0o644


def test_a_failed_validation_writes_nothing_at_all(tmp_path):
    good, bad = tmp_path / "good.conf", tmp_path / "bad.conf"
    changes = F.plan(items(dict(path=str(good), content="fine\n", mode="0644"),
                           dict(path=str(bad), content="broken\n", mode="0644", validate="grep -q fine %s")))
    with pytest.raises(DaemonError) as err:
        F.validate(changes)
    assert "files[1] %s: validation 'grep -q fine %%s' failed (rc 1)" % bad in str(err.value)
    assert "nothing was written" in str(err.value)
    assert not good.exists() and not bad.exists()


def test_systemd_validation_refuses_unknown_keys_and_passes_a_good_unit(tmp_path):
    unit = tmp_path / "demo.service"
    bad = items(dict(path=str(unit), content="[Service]\nExecStart=/bin/true\nBogusKey=1\n", mode="0644", validate="systemd:demo.service"))
    with pytest.raises(DaemonError) as err:
        F.validate(F.plan(bad))
    assert "systemd-analyze verify demo.service refused it" in str(err.value) and "BogusKey" in str(err.value)
    good = items(dict(path=str(unit), content="[Service]\nExecStart=/bin/true\n", mode="0644", validate="systemd:demo.service"))
    F.validate(F.plan(good))


def test_a_unit_bound_to_a_unit_the_same_call_writes_passes_its_systemd_validation(tmp_path):
    """A master added back where kubeha had removed it: the scheduler's podmaster drop-in (its directory left) binds it
    to podmaster.service, which the same call writes. Each unit file is checked with the call's other unit files beside
    it; alone, systemd-analyze refuses it ("Unit ... not found")."""
    name = "kubeha-test-pm-%d.service" % os.getpid()
    bound = dict(path=str(tmp_path / "a.service"), mode="0644", validate="systemd:a.service",
                 content="[Unit]\nBindsTo=%s\nAfter=%s\n[Service]\nExecStart=/bin/true\n" % (name, name))
    with pytest.raises(DaemonError, match="Unit %s not found" % name):
        F.validate(F.plan(items(bound)))
    other = dict(path=str(tmp_path / name), mode="0644", validate="systemd:" + name, content="[Service]\nExecStart=/bin/true\n")
    F.validate(F.plan(items(bound, other)))


def test_digest_of_puts_the_inputs_digest_into_the_content(tmp_path):
    cert = tmp_path / "server.crt"
    cert.write_text("cert one")
    manifest = tmp_path / "pod.yaml"
    raw = dict(path=str(manifest), content="annotations: {kubeha.io/inputs: '@@inputs_digest@@'}\n", mode="0600", digest_of=[str(cert)])
    converge(raw)
    first = manifest.read_text()
    assert inputs_digest([str(cert)]) in first and "@@" not in first
    assert converge(raw) == {str(manifest): "none"}
    cert.write_text("cert two")
    assert converge(raw) == {str(manifest): "update"}, "a new certificate changes the manifest"
    with pytest.raises(DaemonError, match="has no @@inputs_digest@@"):
        items(dict(path=str(manifest), content="no token", mode="0600", digest_of=[str(cert)]))


def test_keep_lines_keeps_what_the_file_was_written_with(tmp_path):
    manifest = tmp_path / "etcd.yaml"
    pattern = r'^\s+- "--initial-cluster[a-z-]*='

    def raw(state, extra="--a=1"):
        return dict(path=str(manifest), mode="0600", keep_lines=pattern,
                    content='command:\n  - "%s"\n  - "--initial-cluster-state=%s"\n  - "--initial-cluster=m1,m2"\n  - "--z=2"\n' % (extra, state))

    assert converge(raw("new")) == {str(manifest): "create"}
    assert converge(raw("existing")) == {str(manifest): "none"}, "the bootstrap flags stay as first written"
    assert '"--initial-cluster-state=new"' in manifest.read_text()
    assert converge(raw("existing", "--a=3")) == {str(manifest): "update"}, "the other lines still follow the content"
    assert manifest.read_text() == 'command:\n  - "--a=3"\n  - "--initial-cluster-state=new"\n  - "--initial-cluster=m1,m2"\n  - "--z=2"\n'
    manifest.write_text('command:\n  - "--a=3"\n  - "--z=2"\n')
    assert converge(raw("existing")) == {str(manifest): "update"}, "a file without such lines takes the new ones"
    assert '"--initial-cluster-state=existing"' in manifest.read_text()
    with pytest.raises(DaemonError, match=r"keep_lines '\(' is not a regular expression"):
        items(dict(path=str(manifest), content="x", mode="0600", keep_lines="("))


@pytest.mark.parametrize("raw, message", [
    (dict(path="relative/x", content="", mode="0644"), "path must be absolute"),
    (dict(path="/x", content="", mode="rw-r--r--"), "is not an octal mode"),
    (dict(path="/x", content=""), "mode is required"),
    (dict(path="/x", content="", mode="0644", owner="no-such-user-kubeha"), "owner 'no-such-user-kubeha' does not exist on this host"),
    (dict(path="/x", mode="0644"), "needs content, content_base64, template or src"),
    (dict(path="/x", state="directory", mode="0755", content="x"), "state directory takes no content"),
    (dict(path="/x", state="link", mode="0755"), "state is 'link'"),
])
def test_bad_entries_name_the_entry_and_the_fix(raw, message):
    with pytest.raises(DaemonError, match=message) as err:
        items(raw)
    assert str(err.value).startswith("files[0] ")


def test_a_directory_where_a_file_belongs_is_refused(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(DaemonError, match="found a directory there"):
        F.plan(items(dict(path=str(tmp_path / "d"), content="x", mode="0644")))


def test_writes_are_atomic_and_leave_no_temporary_files(tmp_path):
    target = tmp_path / "a.conf"
    converge(dict(path=str(target), content="x" * 100000, mode="0640"))
    assert sorted(os.listdir(tmp_path)) == ["a.conf"]
    assert mode(target) == 0o640


def test_diffs_show_text_hide_secrets_and_summarise_binaries(tmp_path):
    text, secret, blob = tmp_path / "t.conf", tmp_path / "s.key", tmp_path / "b.bin"
    text.write_text("old\n")
    secret.write_text("old-secret")
    changes = F.plan(items(dict(path=str(text), content="new\n", mode="0644"),
                           dict(path=str(secret), content="new-secret", mode="0600", secret=True),
                           dict(path=str(blob), content_base64="AAEC/w==", mode="0755")))
    text_diff, secret_diff, blob_diff = F.diffs(changes)
    assert (text_diff["before"], text_diff["after"]) == ("old\n", "new\n")
    assert secret_diff["after"].startswith("(secret content changed, mode 0600")
    assert "new-secret" not in str(secret_diff) and "old-secret" not in str(secret_diff)
    assert blob_diff["before"] == "absent\n" and "content sha256" in blob_diff["after"]


def test_check_mode_leaves_a_unit_open_when_only_its_binary_is_missing(tmp_path):
    """An earlier role (kube_binaries) only reported the binary in check mode: not decided, not a failure."""
    unit = tmp_path / "demo.service"
    later = items(dict(path=str(unit), content="[Service]\nExecStart=/usr/local/bin/kubeha-not-there\n", mode="0644",
                       validate="systemd:demo.service"))
    with pytest.raises(DaemonError, match="kubeha-not-there is not executable"):
        F.validate(F.plan(later))                     # a real run refuses it
    verdict = F.validate(F.plan(later), check_mode=True)
    assert "not decided in check mode: /usr/local/bin/kubeha-not-there not installed yet" in verdict
    both = items(dict(path=str(unit), content="[Service]\nExecStart=/usr/local/bin/kubeha-not-there\nBogusKey=1\n",
                      mode="0644", validate="systemd:demo.service"))
    with pytest.raises(DaemonError, match="BogusKey"):
        F.validate(F.plan(both), check_mode=True)     # anything else is still a fault


def test_check_mode_leaves_a_validation_open_while_a_reported_file_is_missing(tmp_path):
    conf = tmp_path / "haproxy.cfg"
    needs = items(dict(path=str(conf), content="ca-file /etc/haproxy/ca.crt\n", mode="0644", validate="false %s"))
    with pytest.raises(DaemonError):
        F.validate_with_new_files(F.plan(needs), True)
    verdict = F.validate_with_new_files(F.plan(needs), True, undecided=["/etc/haproxy/ca.crt"])
    assert "not on the host yet: /etc/haproxy/ca.crt" in verdict and not conf.exists()
