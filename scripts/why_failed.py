"""Print the task failures that stopped a Molecule (ansible-playbook) log, readably: scripts/test.sh calls it for a
failed stage, so that the last screen of a CI log says why.

    python3 scripts/why_failed.py LOG [--last 2]
    python3 scripts/why_failed.py LOG --brief      (one line: the last failure's task, host and message)

The last ``--last`` failures not followed by "...ignoring" (the earlier ones may be expected failures of nested
runs): the task's name, and of the result (``fatal: [host]: FAILED! => {json}``) its msg, the tail of its stderr and
stdout lines (a nested ansible-playbook's recap and failure among them), each line cut at 400 characters.
"""

from __future__ import annotations

import json
import re
import sys

FAILURE = re.compile(r'^(fatal|failed): \[([^\]]+)\]( \(item=.*?\))?: (?:FAILED! => |UNREACHABLE! => )?(\{.*\})\s*$')
# ansible-core 2.19 prints a failed loop item's failure as an error line of its own
ERROR = re.compile(r'^\[ERROR\]: Task failed: (.*)$')


def failures(lines):
    """[(line number, task name, host, result dict or raw text)] of the failures not ignored."""
    found, task = [], ''
    for number, line in enumerate(lines):
        if line.startswith('TASK ['):
            task = line.split('[', 1)[1].rsplit(']', 1)[0]
        match, error = FAILURE.match(line), ERROR.match(line)
        if not (match or error):
            continue
        if any(later.startswith('...ignoring') for later in lines[number + 1:number + 3]):
            continue
        if error:
            found.append((number + 1, task, '?', {'msg': error.group(1)}))
            continue
        try:
            result = json.loads(match.group(4))
        except ValueError:
            result = match.group(4)
        found.append((number + 1, task, match.group(2), result))
    return found


def cut(text):
    """The text, at most 400 characters."""
    return str(text)[:400]


def show(number, task, host, result, out):
    """Print one failure."""
    out.write('--- line %d, task [%s] on %s\n' % (number, task, host))
    if not isinstance(result, dict):
        out.write(cut(result) + '\n')
        return
    for key in ('msg', 'assertion', 'rc', 'cmd'):
        if result.get(key) not in (None, ''):
            out.write('%s: %s\n' % (key, cut(result[key] if not isinstance(result[key], list) else ' '.join(map(str, result[key])))))
    for key, keep in (('stderr_lines', 15), ('stdout_lines', 40)):
        lines = result.get(key) or []
        if lines:
            out.write('%s (last %d of %d):\n' % (key, min(keep, len(lines)), len(lines)))
            for line in lines[-keep:]:
                out.write('  ' + cut(line) + '\n')


def main(argv):
    """Command line."""
    last = 2
    if len(argv) > 2 and argv[2] == '--last':
        last = int(argv[3])
    with open(argv[1], encoding='utf-8', errors='replace') as handle:
        lines = handle.read().splitlines()
    found = failures(lines)
    if len(argv) > 2 and argv[2] == '--brief':
        if found:
            number, task, host, result = found[-1]
            message = result.get('msg', '') if isinstance(result, dict) else result
            sys.stdout.write('line %d, task [%s] on %s: %s\n' % (number, task, host, cut(message)[:300]))
        else:
            sys.stdout.write('no task failure in the log (see its end)\n')
        return 0
    for failure in found[-last:]:
        show(*failure, out=sys.stdout)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
