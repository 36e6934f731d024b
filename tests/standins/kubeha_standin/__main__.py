"""``python -m kubeha_standin COMPONENT [FLAGS...]``: run a stand-in from the source tree."""

from __future__ import annotations

import sys

from kubeha_standin.runner import main

if __name__ == '__main__':
    if len(sys.argv) < 2:
        sys.stderr.write('usage: python -m kubeha_standin COMPONENT [FLAGS...]\n')
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2:]))
