"""ASGI header lists, checked: (name, value) pairs of bytes, as tuples or two-item lists."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import cast

__all__ = ["header_pairs"]


def header_pairs(headers: Iterable[object], *, what: str) -> list[tuple[bytes, bytes]]:
    """``headers`` as a list of ``(name, value)`` tuples; ``TypeError`` naming ``what`` for
    an entry that is not a pair of bytes."""
    pairs: list[tuple[bytes, bytes]] = []
    for header in headers:
        pair = cast("Sequence[object]", header) if isinstance(header, tuple | list) else ()
        name, value = pair if len(pair) == 2 else (None, None)
        if not isinstance(name, bytes) or not isinstance(value, bytes):
            raise TypeError(f"{what} must be (bytes, bytes) pairs, got {header!r}")
        pairs.append((name, value))
    return pairs
