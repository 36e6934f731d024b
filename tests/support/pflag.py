"""The real components' flag tables (tests/data/flags, generated from their --help by
scripts/flag_data.py), and a parser that behaves like spf13/pflag: a fake of the parsing only, for the
pytests that check what the roles render for every supported version without running each binary."""

from __future__ import annotations

import os
import re

DATA_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'data', 'flags')

_BOOL_TRUE = ('1', 't', 'T', 'TRUE', 'true', 'True')
_BOOL_FALSE = ('0', 'f', 'F', 'FALSE', 'false', 'False')
_DURATION = re.compile(r'^[-+]?(0|((\d+(\.\d*)?|\.\d+)(ns|us|\u00b5s|ms|s|m|h))+)$')
_INT_TYPES = ('int', 'int32', 'int64', 'uint', 'uint32', 'uint64')
_FLOAT_TYPES = ('float', 'float32', 'float64')


class FlagError(Exception):
    """A command line the real component would refuse; the message is pflag's wording."""


class FlagTable:
    """Flags of one component: long name -> value type, shorthand -> long name."""

    def __init__(self, component, version, flags, shorthands):
        self.component = component
        self.version = version
        self.flags = flags
        self.shorthands = shorthands

    def is_bool(self, name):
        """True for flags that take no separate value (booleans and --version)."""
        return self.flags[name] in ('bool', 'version')

    def names(self):
        """Every long flag name, sorted."""
        return sorted(self.flags)


def parse_flag_table(text, component='', version=''):
    """Read ``--long-name type [-s]`` lines; ``#`` starts a comment line."""
    flags = {}
    shorthands = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith('#'):
            continue
        parts = line.split()
        if not parts[0].startswith('--') or len(parts) not in (2, 3):
            raise ValueError('flag table %s %s line %d: expected "--name type [-s]", got %r' % (component, version, number, raw))
        name = parts[0][2:]
        flags[name] = parts[1]
        if len(parts) == 3:
            shorthands[parts[2].lstrip('-')] = name
    return FlagTable(component, version, flags, shorthands)


def flag_file(component, version, data_dir=None):
    """Path of the flag list of a component for a Kubernetes version (major.minor or full)."""
    minor = '.'.join(version.lstrip('v').split('.')[:2])
    return os.path.join(data_dir or DATA_DIR, minor, component + '.txt')


def load_flag_table(component, version, data_dir=None):
    """Load the flag list of a component from ``tests/data/flags/<major.minor>/<component>.txt``."""
    path = flag_file(component, version, data_dir)
    with open(path, encoding='utf-8') as handle:
        return parse_flag_table(handle.read(), component, version)


def _check_value(table, name, value):
    kind = table.flags[name]
    problem = None
    if kind == 'bool':
        if value not in _BOOL_TRUE + _BOOL_FALSE:
            problem = 'strconv.ParseBool: parsing "%s": invalid syntax' % value
    elif kind in _INT_TYPES:
        if not re.match(r'^[-+]?\d+$', value) or (kind.startswith('uint') and value.startswith('-')):
            problem = 'strconv.Parse%s: parsing "%s": invalid syntax' % ('Uint' if kind.startswith('uint') else 'Int', value)
    elif kind in _FLOAT_TYPES:
        try:
            float(value)
        except ValueError:
            problem = 'strconv.ParseFloat: parsing "%s": invalid syntax' % value
    elif kind == 'duration':
        if not _DURATION.match(value):
            problem = 'time: invalid duration "%s"' % value
    if problem:
        raise FlagError('invalid argument "%s" for "--%s" flag: %s' % (value, name, problem))


def parse_args(table, argv):
    """Parse argv like pflag; return ({long name: [values...]}, [positional args]).

    Booleans given bare get "true"; --version given bare gets "true". Repeated flags keep every
    value in order (the last one wins for scalars, as in pflag).
    """
    values = {}
    positional = []
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == '--':
            positional.extend(args)
            break
        if not arg.startswith('-') or arg == '-':
            positional.append(arg)
            continue
        if arg.startswith('--'):
            body = arg[2:]
            if not body or body.startswith('-') or body.startswith('='):
                raise FlagError('bad flag syntax: %s' % arg)
            name, has_value, value = body.partition('=')
            if name not in table.flags:
                raise FlagError('unknown flag: --%s' % name)
        else:
            letter = arg[1]
            if letter not in table.shorthands:
                raise FlagError("unknown shorthand flag: '%s' in %s" % (letter, arg))
            name = table.shorthands[letter]
            rest = arg[2:]
            has_value = bool(rest)
            value = rest[1:] if rest.startswith('=') else rest
        if not has_value:
            if table.is_bool(name):
                value = 'true'
            elif args:
                value = args.pop(0)
            else:
                raise FlagError('flag needs an argument: --%s' % name)
        _check_value(table, name, value)
        values.setdefault(name, []).append(value)
    return values, positional
