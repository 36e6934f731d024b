# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Images in containerd's store, imported from OCI archives only when missing or different (containerd_images).

The store is read with one ``ctr images ls``; an image is current when containerd records the wanted name
with the wanted digest (the digest of the archive's index entry, which ``ctr images import`` makes the
image's target). Only the others are imported, and the store is read again to prove that each import
produced the wanted digest.
"""

from __future__ import annotations

import re

from ansible_collections.kubeha.cluster.plugins.module_utils._daemon.common import DaemonError, run, tail

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
TIMEOUT = 300


def ctr(settings, *args):
    return [settings["ctr"], "--address", settings["address"], "--namespace", settings["namespace"]] + list(args)


def listed(settings):
    """{name: digest} of every image in the namespace (one ``ctr images ls``)."""
    rc, out, err = run(ctr(settings, "images", "ls"), timeout=60)
    if rc != 0:
        raise DaemonError("ctr images ls failed (rc %d): %s. Is containerd running and serving %s?"
                          % (rc, tail(err or out), settings["address"]))
    images = {}
    for line in out.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 3 and DIGEST.match(fields[2]):
            images[fields[0]] = fields[2]
    return images


def check_wanted(images):
    for image in images:
        if not image.get("name") or not DIGEST.match(str(image.get("digest"))) or not image.get("archive"):
            raise DaemonError("images: every entry needs name, a sha256 digest and archive; seen %r" % (image,))


def converge(settings, images, check_mode):
    """Import what is missing or different; return the module's result."""
    check_wanted(images)
    try:
        before = listed(settings)
    except DaemonError:
        if not check_mode:
            raise
        before = {}   # check mode on a node whose containerd this run would start: every image would be imported
    due = [i for i in images if before.get(i["name"]) != i["digest"]]
    result = dict(changed=bool(due), imported=[i["name"] for i in due],
                  images={i["name"]: i["digest"] for i in images},
                  diff=dict(before="".join("%s %s\n" % (i["name"], before.get(i["name"], "(absent)")) for i in images),
                            after="".join("%s %s\n" % (i["name"], i["digest"]) for i in images)))
    if check_mode or not due:
        return result
    for archive in sorted({i["archive"] for i in due}):
        rc, out, err = run(ctr(settings, "images", "import", archive), timeout=TIMEOUT)
        if rc != 0:
            raise DaemonError("ctr images import %s failed (rc %d): %s. The archive was verified on the controller; "
                              "check containerd's log (journalctl -u containerd) and its free space." % (archive, rc, tail(err or out)),
                              imported=[])
    after = listed(settings)
    wrong = ["%s: containerd has %s, the archive %s" % (i["name"], after.get(i["name"], "no such image"), i["digest"])
             for i in due if after.get(i["name"]) != i["digest"]]
    if wrong:
        raise DaemonError("images imported but not as their archives say: %s. The archive's index names another "
                          "image or digest than the controller read; rebuild the archive." % "; ".join(wrong))
    return result
