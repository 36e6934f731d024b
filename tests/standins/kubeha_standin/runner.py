"""Entry point shared by every stand-in: parse flags like the real component, then run its behaviour."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

from kubeha_standin import components
from kubeha_standin.flags import FlagError, load_flag_table, parse_flag_table, parse_args

DEFAULT_VERSION = '1.34.2'


class Log:
    """klog-like lines on stderr: ``I1124 11:30:00.123456    4242 standin] message``."""

    def __init__(self, component):
        self.component = component

    def _write(self, level, message):
        now = time.time()
        stamp = time.strftime('%m%d %H:%M:%S', time.localtime(now)) + '.%06d' % int((now % 1) * 1e6)
        sys.stderr.write('%s%s %7d standin] %s: %s\n' % (level, stamp, os.getpid(), self.component, message))
        sys.stderr.flush()

    def info(self, message):
        """An informational line."""
        self._write('I', message)

    def error(self, message):
        """An error line."""
        self._write('E', message)


def _usage(table):
    lines = ['Usage:', '  %s [flags]' % table.component, '', 'Flags:']
    for name in table.names():
        kind = table.flags[name]
        short = [s for s, n in table.shorthands.items() if n == name]
        lines.append('  %s--%s%s' % ('-%s, ' % short[0] if short else '    ', name, '' if kind == 'bool' else ' ' + kind))
    return '\n'.join(lines) + '\n'


def _table(component, version, embedded):
    if embedded is not None:
        return parse_flag_table(embedded, component, version)
    return load_flag_table(component, version)


def main(component, argv=None, version=None, flag_text=None):
    """Run the stand-in for component with argv; return the process exit status.

    flag_text is the component's flag list, baked into an artifact by build_artifacts.py; from the
    source tree it is read from tests/data/flags.
    """
    argv = sys.argv[1:] if argv is None else argv
    version = (version or os.environ.get('KUBEHA_STANDIN_VERSION') or DEFAULT_VERSION).lstrip('v')
    behaviour = components.REGISTRY.get(component)
    if behaviour is None:
        sys.stderr.write('kubeha stand-in: no stand-in for %r (known: %s)\n' % (component, ', '.join(sorted(components.REGISTRY))))
        return 2
    if behaviour.uses_flag_table is False:
        return behaviour.run_cli(argv, version)
    table = _table(component, version, flag_text)
    try:
        values, positional = parse_args(table, argv)
    except FlagError as exc:
        prefix = 'failed to parse kubelet flag: ' if component == 'kubelet' else ''
        sys.stderr.write('Error: %s%s\n' % (prefix, exc))
        if component != 'kubelet':
            sys.stderr.write(_usage(table))
        return 1
    if positional:
        sys.stderr.write('Error: unknown command "%s" for "%s"\n' % (positional[0], component))
        return 1
    if 'help' in values and values['help'][-1] in ('1', 't', 'T', 'TRUE', 'true', 'True'):
        sys.stdout.write(_usage(table))
        return 0
    if 'version' in values and values['version'][-1] not in ('0', 'f', 'F', 'FALSE', 'false', 'False'):
        sys.stdout.write('Kubernetes v%s\n' % version)
        return 0

    log = Log(component)
    log.info('kubeha stand-in for %s v%s (not the real component), pid %d' % (component, version, os.getpid()))
    log.info('flags: %s' % ' '.join(argv))
    stop = threading.Event()

    def _on_signal(signum, _frame):
        log.info('received signal %d, shutting down' % signum)
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    behaviour.running_version = version
    try:
        behaviour.start(values, log)
    except components.StartError as exc:
        log.error(str(exc))
        return 1
    while not stop.wait(3600):
        pass
    return 0
