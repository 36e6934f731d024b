# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A daemon on a host in one call: its files, its systemd unit or static pod, restarts, health.

Standard library only: this runs on the managed nodes. ``files`` plans and writes files atomically,
``systemd`` speaks to systemctl, ``health`` waits for an endpoint, ``engine`` ties them together with
the restart records kept under ``state_dir``.
"""
