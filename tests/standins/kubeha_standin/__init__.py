"""Stand-ins for the Kubernetes server binaries, for tests only.

No Kubernetes server binary can be obtained on the test machines, so the tests install these
stand-ins instead, through the same artifact layout and checksums as the real release. A stand-in:

- accepts exactly the flags of the real component and version (the lists under
  ``tests/data/flags/<version>/``) and parses them the way the real ones do (spf13/pflag:
  ``--name=value``, ``--name value``, bare booleans, ``-v 2`` shorthands, typed values);
- rejects anything else as the real component does (``unknown flag: --x``, exit status 1);
- prints ``Kubernetes v<version>`` for ``--version``;
- logs to stderr, saying that it is a stand-in;
- serves the health endpoints the real component serves (plain HTTP or TLS as the real one).

It is called a stand-in wherever it appears; it never ships in the collection (``tests`` is in
galaxy.yml's ``build_ignore``).
"""

from __future__ import annotations

from kubeha_standin.flags import FlagError, FlagTable, load_flag_table, parse_args
from kubeha_standin.runner import main

__all__ = ['FlagError', 'FlagTable', 'load_flag_table', 'main', 'parse_args']
