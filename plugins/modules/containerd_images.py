#!/usr/bin/python
# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: containerd_images
short_description: Import OCI image archives into containerd when an image is missing or has another digest
version_added: 0.3.0
description:
  - Reads containerd's images once (C(ctr images ls)). An image is current when containerd has its name with the
    wanted digest; only the others are imported (C(ctr images import)), and the store is read again to prove that
    each one now has the wanted digest.
  - The archives must already be on the host; the M(kubeha.cluster.daemon) module sends them (only when they
    differ), and the C(kube_images) lookup verifies them on the controller and gives the digests.
  - Used by the node role with C(kube_images_source=local), so that pods and containerd's sandbox image need
    no registry.
extends_documentation_fragment:
  - kubeha.cluster.attributes
  - kubeha.cluster.attributes.POSIX
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
options:
  images:
    description: The wanted images.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The image reference, as containerd records it (V(kubeha.local/pause:1.0)).
        type: str
        required: true
      digest:
        description: The digest containerd must record for it (the archive's index entry, V(sha256:...)).
        type: str
        required: true
      archive:
        description: The OCI archive on the host that holds it.
        type: path
        required: true
  namespace:
    description: containerd's namespace; the CRI plugin (the kubelet's runtime) uses V(k8s.io).
    type: str
    default: k8s.io
  address:
    description: containerd's socket.
    type: path
    default: /run/containerd/containerd.sock
  ctr:
    description: The C(ctr) program.
    type: path
    default: ctr
seealso:
  - module: kubeha.cluster.daemon
  - plugin: kubeha.cluster.kube_images
    plugin_type: lookup
author:
  - kubeha developers (@kubeha)
"""

EXAMPLES = r"""
- name: The pause image, from an archive the daemon module sent
  kubeha.cluster.containerd_images:
    images:
      - name: kubeha.local/pause:1.0
        digest: sha256:3f1c...
        archive: /var/lib/kubeha/images/pause_1.0.oci.tar
"""

RETURN = r"""
imported:
  description: The names imported by this run (in check mode, those that would be).
  type: list
  elements: str
  returned: success
images:
  description: Every wanted image and the digest containerd now records for it.
  type: dict
  returned: success
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeha.cluster.plugins.module_utils._daemon.common import DaemonError
from ansible_collections.kubeha.cluster.plugins.module_utils._images.containerd import converge


def main():
    module = AnsibleModule(
        argument_spec=dict(
            images=dict(type="list", elements="dict", required=True, options=dict(
                name=dict(type="str", required=True),
                digest=dict(type="str", required=True),
                archive=dict(type="path", required=True),
            )),
            namespace=dict(type="str", default="k8s.io"),
            address=dict(type="path", default="/run/containerd/containerd.sock"),
            ctr=dict(type="path", default="ctr"),
        ),
        supports_check_mode=True,
    )
    settings = {k: module.params[k] for k in ("namespace", "address", "ctr")}
    try:
        result = converge(settings, module.params["images"], module.check_mode)
    except DaemonError as exc:
        module.fail_json(msg="containerd_images: %s" % exc, **exc.result)
    if not module._diff:
        result.pop("diff")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
