# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""podmaster: runs one component (scheduler, controller-manager) on exactly one master at a time.

* :mod:`.elector`: the lease lock on etcd (create-only transaction bound to a v3 lease, keep-alive,
  a monotonic deadline that deactivates before the lease can expire on etcd).
* :mod:`.activator`: what "active" means on this host (a static pod manifest copied atomically, or
  a systemd unit started).
* :mod:`.daemon`: configuration, signals, logging, status file; ``python3 -m <pkg>._podmaster.daemon``.

Standard library plus the collection's etcd client (``.._etcd``), no Ansible imports: the
control_plane role ships these files with the client to every master and runs them as a daemon.
"""
