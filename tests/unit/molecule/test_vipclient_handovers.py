"""molecule/apiserver/files/vipclient.py handovers: which failed requests etcd dropped in a leader hand-over.

The case is the one Molecule apiserver met in CI (2026-12-07, etcd's rolling upgrade): the leader, restarted last,
handed its leadership on at 00:52:19.06, and a create made at 00:52:19.02 was answered "etcdserver: request timed
out" 7.05 s later. Times and lines are those of that run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SCRIPT = os.path.join(ROOT, "molecule", "apiserver", "files", "vipclient.py")
SPEC = importlib.util.spec_from_file_location("vipclient", SCRIPT)
vipclient = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(vipclient)

TIMED_OUT = ("1796604746.08 create loop-1796604738-481: status 500: {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, "
             "'status': 'Failure', 'message': 'etcdserver: request timed out', 'code': 500} (after 7.06 s)")
HANDOVER = ('{"level":"info","ts":"2026-12-07T00:52:19.061737Z","caller":"etcdserver/server.go:1526","msg":"leadership transfer '
            'starting","local-member-id":"1186351b587cb98c","current-leader-member-id":"1186351b587cb98c",'
            '"transferee-member-id":"1cb4d26f262753a0"}')
LEADER = '{"level":"info","ts":"2026-12-07T00:52:19.077897Z","logger":"raft","msg":"1cb4d26f262753a0 became leader at term 4"}'
# a static pod's log line: the container runtime's prefix before etcd's own
POD_HANDOVER = '2026-12-07T00:52:19.061900123Z stderr F ' + HANDOVER


def test_a_timeout_of_a_request_made_as_the_leader_handed_over_is_a_handover_loss():
    found = vipclient.handovers({"failed": 1, "errors": [TIMED_OUT]}, {"m1": [LEADER], "m2": [HANDOVER]})
    assert found["handovers"] == [1796604739.062]
    assert [(loss["failed_at"], loss["began"], loss["handover_at"]) for loss in found["handover_losses"]] == [
        (1796604746.08, 1796604739.02, 1796604739.062)]
    assert "etcdserver: request timed out" in found["handover_losses"][0]["error"]
    # from a static pod's log too, and from an error without its time taken (etcd's 7 s request timeout assumed)
    older = TIMED_OUT.replace(" (after 7.06 s)", "")
    assert len(vipclient.handovers({"errors": [older]}, {"m2": [POD_HANDOVER]})["handover_losses"]) == 1


def test_other_failures_are_not_handover_losses():
    # no hand-over logged, or one far from the request's start
    assert vipclient.handovers({"errors": [TIMED_OUT]}, {"m1": [LEADER]})["handover_losses"] == []
    later = HANDOVER.replace("00:52:19.061737", "00:52:26.085037")
    assert vipclient.handovers({"errors": [TIMED_OUT]}, {"m1": [later]})["handover_losses"] == []
    # another error at the same moment: a refused connection, a 503 from the apiserver, a leader failure etcd named
    for other in ("1796604746.08 create x: ConnectionResetError: [Errno 104] Connection reset by peer (after 0.01 s)",
                  "1796604746.08 list x: status 503: {'message': 'service unavailable'} (after 0.20 s)"):
        assert vipclient.handovers({"errors": [other]}, {"m2": [HANDOVER]})["handover_losses"] == []
    assert vipclient.handovers({}, {}) == {"handovers": [], "handover_losses": []}


def test_the_command_reads_json_on_stdin():
    given = json.dumps({"client": {"failed": 1, "errors": [TIMED_OUT]}, "etcd_log": {"m2": [HANDOVER]}})
    proc = subprocess.run([sys.executable, SCRIPT, "handovers"], input=given, capture_output=True, text=True, check=True)
    assert len(json.loads(proc.stdout)["handover_losses"]) == 1
    bad = subprocess.run([sys.executable, SCRIPT, "api-loop"], capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "api-loop needs URL" in bad.stderr
