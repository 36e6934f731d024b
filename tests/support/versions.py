"""The releases kubeha supports, for the tests that check every one of them.

The default is the one the demo and the Molecule scenarios run (scripts/setup.sh pins and builds
it); the previous minor is supported for clusters that have not upgraded yet. Flag data for each
minor is under tests/data/flags, generated from the real binaries by scripts/flag_data.py.
tests/unit/scripts/test_versions.py checks that the roles' defaults and the set-up agree with this.
"""

KUBERNETES_DEFAULT = '1.35.4'
# 1.36 and 1.37 want cgroup v2 (and containerd 2): the roles support them and their flag data is generated from
# the real binaries, but no node here runs them (README "Versions")
KUBERNETES_SUPPORTED = ('1.34.4', KUBERNETES_DEFAULT, '1.36.3', '1.37.2')
ETCD_DEFAULT = '3.6.16'
ETCD_SUPPORTED = ('3.5.35', ETCD_DEFAULT)
