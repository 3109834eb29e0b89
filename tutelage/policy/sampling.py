"""Deterministic coin flips: the same query and purpose always give the same draw.

Workflows must be deterministic on replay, and the inline and Temporal benchmark engines must
make identical decisions, so randomness is a hash of stable ids rather than a global RNG.
"""

from __future__ import annotations

import hashlib


def stable_uniform(*parts: str) -> float:
    """A number in [0, 1) that depends only on `parts`."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def stable_shuffle(items: list[str], *key: str) -> list[str]:
    """`items` in an order fixed by `key`."""
    return sorted(items, key=lambda item: stable_uniform(*key, item))
