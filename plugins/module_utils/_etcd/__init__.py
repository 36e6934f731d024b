# Copyright (c) kubeha developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The one etcd client of kubeha.cluster, and what builds on it.

Standard library only and no Ansible imports: the podmaster daemon ships these files as they are.
"""
