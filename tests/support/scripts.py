"""The project's Python programs that are not modules (roles' files such as node-daemons), loaded for a test."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load(relpath, name):
    """A fresh module object from the file at ROOT/relpath (a new one on every call, so tests may patch it)."""
    loader = importlib.machinery.SourceFileLoader(name, os.path.join(ROOT, relpath))
    spec = importlib.util.spec_from_loader(name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module
