# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Controller side of kubeha.cluster.daemon: render templates, read controller files, send big ones only when needed."""

from __future__ import annotations

import base64
import os

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.plugins.action import ActionBase
from ansible.plugins.loader import lookup_loader

from ansible_collections.kubeha.cluster.plugins.plugin_utils._files import sha256_file

# controller files up to this size travel inside the module arguments; bigger ones (real Kubernetes
# binaries) are compared by sha256 first and transferred only when the host's copy differs
INLINE_LIMIT = 512 * 1024
MODULE = "kubeha.cluster.daemon"


# the host's fact that sums up every call's "managed" report; site.yml records it with kubeha.cluster.converged
FACT = "kubeha_managed"


def run_id(pid=None):
    """This ansible-playbook run: its main process (every task's worker is its child) and when that started.

    A fact left by another run (a persistent fact cache) carries another id; the plugin needs no playbook variable.
    """
    pid = os.getppid() if pid is None else pid
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii", errors="replace") as handle:
            started = handle.read().rsplit(")", 1)[1].split()[19]  # field 22, starttime
    except (OSError, IndexError):
        started = ""  # not Linux: the process id alone
    return "%d:%s" % (pid, started)


def merge_managed(previous, managed, run=None):
    """The fact after one more call: later calls win for a path or unit they share with an earlier one.

    ``run`` is the current run's id (run_id()): a fact left by another run (a persistent fact cache)
    is started afresh, so that it never holds what an older run managed.
    """
    previous = previous or {}
    if run is not None and previous.get("run") != run:
        previous = {}
    files = dict(previous.get("files") or {})
    files.update(managed.get("files") or {})
    units = dict(previous.get("units") or {})
    units.update(managed.get("units") or {})
    dirs = list(previous.get("state_dirs") or [])
    dirs += [d for d in managed.get("state_dirs") or [] if d not in dirs]
    out = dict(files=files, units=units, state_dirs=dirs)
    if run is not None:
        out["run"] = run
    return out


class ActionModule(ActionBase):
    TRANSFERS_FILES = True
    _supports_check_mode = True
    _supports_async = False

    def _render(self, name, task_vars, template_vars=None):
        lookup = lookup_loader.get("ansible.builtin.template", loader=self._loader, templar=self._templar)
        return lookup.run([name], variables=task_vars, template_vars=template_vars or {})[0]

    def _resolve(self, files, task_vars):
        """Module-ready file entries, {index: controller path} of the ones too big to inline, and (check mode)
        {path on the host: controller source} of the files whose source is not on the controller yet."""
        out, big, undecided = [], {}, {}
        for index, raw in enumerate(files):
            item = dict(raw)
            where = "files[%d] %s" % (index, item.get("path") or "(no path)")
            try:
                template_vars = item.pop("template_vars", None)
                if item.get("template") is not None:
                    item["content"] = self._render(item.pop("template"), task_vars, template_vars)
                expected = item.pop("src_sha256", None)
                if item.get("src") is not None:
                    try:
                        local = self._find_needle("files", item["src"])
                    except AnsibleError:
                        if not self._play_context.check_mode:
                            raise
                        # check mode: an earlier stage (the controller's PKI, a build) only reported this file
                        undecided[item["path"]] = item.pop("src")
                        continue
                    item.pop("src")
                    if expected is not None and sha256_file(local) != expected:
                        raise AnsibleActionFail(
                            "%s: the controller's %s has sha256 %s, not the %s it was built with: it changed after the "
                            "build (another local user?); nothing was sent. Run again to rebuild it."
                            % (where, local, sha256_file(local), expected))
                    if os.path.getsize(local) <= INLINE_LIMIT:
                        with open(local, "rb") as handle:
                            item["content_base64"] = base64.b64encode(handle.read()).decode("ascii")
                    else:
                        item["checksum"] = sha256_file(local)
                        big[len(out)] = local  # its position in the module's files
            except (AnsibleError, OSError) as exc:
                raise AnsibleActionFail("%s: %s" % (where, exc)) from None
            out.append(item)
        return out, big, undecided

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        if not isinstance(args.get("files") or [], list):
            raise AnsibleActionFail("files must be a list of dicts, got %s" % type(args.get("files")).__name__)
        files, big, undecided = self._resolve(args.get("files") or [], task_vars)
        args["files"] = files
        if undecided:
            args["check_mode_undecided"] = sorted(undecided)
        try:
            answer = self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars)
            wanted = answer.get("need_transfer") or []
            if wanted and not answer.get("failed"):
                if self._connection._shell.tmpdir is None:
                    self._make_tmp_path()
                staged = []
                for index in wanted:
                    remote = self._connection._shell.join_path(self._connection._shell.tmpdir, "staged-%d" % index)
                    self._transfer_file(big[index], remote)
                    files[index]["staged"] = remote
                    staged.append(remote)
                self._fixup_perms2([self._connection._shell.tmpdir] + staged)
                answer = self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars)
                answer.pop("need_transfer", None)
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        # the arguments carry whole files (and may carry secrets): never echo them back
        answer.pop("invocation", None)
        result.update(answer)
        if undecided and not answer.get("failed"):
            # check mode: these would be written from sources an earlier stage only reported
            result["changed"] = True
            result["files"] = dict(result.get("files") or {}, **dict((path, "not decided") for path in undecided))
            result["check_mode_undecided"] = dict(
                (path, "its source %s is not on the controller yet (an earlier stage reported it in check mode)" % src)
                for path, src in undecided.items())
        if answer.get("managed") and not answer.get("failed") and not self._play_context.check_mode:
            previous = (task_vars.get("ansible_facts") or {}).get(FACT)
            result["ansible_facts"] = {FACT: merge_managed(previous, answer["managed"], run_id())}
        return result
