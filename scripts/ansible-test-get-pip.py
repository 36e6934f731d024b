# Offline replacement for the get-pip script that ansible-test downloads to bootstrap pip in its
# virtual environments (the download host is not reachable on kubeha's build machines).
# scripts/setup.sh installs it as ~/.ansible/test/cache/get_pip_24_2.py.
# pip comes from the standard library's ensurepip; the packages asked for then come from the
# machine's configured index. ensurepip points PIP_CONFIG_FILE at /dev/null, which would make pip
# ignore that configuration, so it is removed before the second step.
import ensurepip
import os
import subprocess
import sys

ensurepip.bootstrap(upgrade=True)
for name in ("PIP_CONFIG_FILE", "ENSUREPIP_OPTIONS"):
    os.environ.pop(name, None)
wanted = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
if wanted:
    subprocess.check_call([sys.executable, "-m", "pip", "install", *wanted])
