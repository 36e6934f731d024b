"""Shared pytest set-up: import the collection as ``ansible_collections.kubeha.cluster``."""

from __future__ import annotations

import os
import sys

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_COLLECTIONS = os.path.join(_ROOT, ".cache", "collections")
_LINK = os.path.join(_COLLECTIONS, "ansible_collections", "kubeha", "cluster")
if not os.path.exists(_LINK):
    os.makedirs(os.path.dirname(_LINK), exist_ok=True)
    os.symlink(os.path.join("..", "..", "..", ".."), _LINK)
if _COLLECTIONS not in sys.path:
    sys.path.insert(0, _COLLECTIONS)
_SUPPORT = os.path.join(_ROOT, "tests")
if _SUPPORT not in sys.path:
    sys.path.insert(0, _SUPPORT)
