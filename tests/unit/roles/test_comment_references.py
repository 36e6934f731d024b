"""Every role file a role's comments, templates or README name exists (issue 15 item 7: no pointer to a deleted file)."""

from __future__ import annotations

import glob
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
REFERENCE = re.compile(r'\b((?:tasks|templates|files|handlers|vars|defaults|meta|checks)/[\w./-]+\.(?:yml|j2|py|sh))')


def dangling():
    out = []
    for path in sorted(glob.glob(os.path.join(ROOT, 'roles', '*', '**', '*'), recursive=True)):
        if not os.path.isfile(path) or not path.endswith(('.yml', '.j2', '.py', '.md', '.sh')):
            continue
        role_dir = os.path.join(ROOT, 'roles', os.path.relpath(path, os.path.join(ROOT, 'roles')).split(os.sep)[0])
        with open(path, encoding='utf-8', errors='replace') as handle:
            for number, line in enumerate(handle, 1):
                for ref in REFERENCE.findall(line):
                    if not any(os.path.exists(c) for c in (os.path.join(role_dir, ref), os.path.join(ROOT, ref),
                                                           os.path.join(role_dir, 'templates', ref))):
                        out.append('%s:%d: %s' % (os.path.relpath(path, ROOT), number, ref))
    return out


def test_the_check_finds_references():
    """The pattern sees the references roles do make (a check that found none could not fail)."""
    assert any(REFERENCE.search(open(p, encoding='utf-8').read()) for p in glob.glob(os.path.join(ROOT, 'roles', '*', 'tasks', '*.yml')))


def test_no_role_file_names_a_file_that_is_not_there():
    assert dangling() == []
