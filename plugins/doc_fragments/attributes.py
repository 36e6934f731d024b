# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """Shared ``attributes`` documentation for the modules of kubeha.cluster."""

    # Descriptions of the attributes; modules add their own C(support) levels, or use a variant below.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in C(check_mode) and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in C(diff) mode) when in diff mode.
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
"""

    # For modules that only read: use together with DOCUMENTATION.
    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - This action does not modify state.
  diff_mode:
    support: N/A
    details:
      - This action does not modify state.
"""

    # Modules that run on any POSIX host with Python (they talk to a service over the network).
    POSIX = r"""
options: {}
attributes:
  platform:
    support: full
    platforms: posix
"""
