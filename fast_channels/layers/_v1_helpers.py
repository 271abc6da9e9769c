"""The helpers fast-channels 1.x's ``BaseChannelLayer`` gave its subclasses.

A layer written against 1.x overrides the public async methods (``send``, ``receive``,
``new_channel``, ``group_add``, ``group_discard``, ``group_send``, ``flush``) and calls these
helpers; :class:`~fast_channels.layers.base.BaseChannelLayer` inherits them, so such a
layer keeps working unchanged. Each one is a thin adapter over the rule the layers use
themselves (:mod:`fast_channels.layers.names`, ``capacity_for``): there is one set of
naming and capacity rules. (``compile_capacities`` and ``get_capacity`` are defined on
``BaseChannelLayer`` itself, next to the rules they expose.)

Differences from 1.x: a bad name raises ``InvalidChannelNameError`` /
``InvalidGroupNameError`` (``ValueError``\\s, where 1.x raised ``TypeError``), and the
``require_valid_*`` helpers return the name (truthy) instead of ``True``.
"""

from __future__ import annotations

import re
from typing import ClassVar

from fast_channels.layers.names import MAX_NAME_LENGTH

__all__ = ["V1LayerHelpers", "missing_method"]

CompiledCapacities = list[tuple[re.Pattern[str], int]]


def missing_method(layer: object, public: str) -> str:
    """The message of the ``NotImplementedError`` a layer implementing neither ``public``
    nor its transport raises (1.x layers without groups raise it from ``group_add``)."""
    return (
        f"{type(layer).__name__} implements neither {public}() nor its transport "
        f"_{public}(): override one of them to support it"
    )


class V1LayerHelpers:
    """Name and capacity helpers of fast-channels 1.x layers (compatibility names)."""

    MAX_NAME_LENGTH: ClassVar[int] = MAX_NAME_LENGTH
    """Channel and group names are shorter than this."""
    channel_name_regex: ClassVar[re.Pattern[str]] = re.compile(
        r"\A[a-zA-Z\d\-_.]+(![\d\w\-_.]*)?\Z", re.ASCII
    )
    """What a channel name looks like (the length is checked apart)."""
    group_name_regex: ClassVar[re.Pattern[str]] = re.compile(r"\A[a-zA-Z\d\-_.]+\Z", re.ASCII)
    """What a group name looks like (the length is checked apart)."""
    invalid_name_error: ClassVar[str] = (
        "{} name must be a str shorter than " + str(MAX_NAME_LENGTH) + " characters of "
        "ASCII letters, digits, '-', '_' and '.'"
    )
    """A message template for a bad name; ``{}`` is ``"Channel"`` or ``"Group"``."""

    _capacity_patterns: CompiledCapacities
    _capacity_cache: dict[str, int]

    @property
    def channel_capacity(self) -> CompiledCapacities:
        """The ``channel_capacity`` patterns, compiled, in the order they are tried.

        Assign a new list to change them (1.x layers assign what ``compile_capacities``
        made); changing the list in place is not noticed for channels already looked up.
        """
        return self._capacity_patterns

    @channel_capacity.setter
    def channel_capacity(self, compiled: CompiledCapacities) -> None:
        self._capacity_patterns = list(compiled)
        self._capacity_cache.clear()

    def match_type_and_length(self, name: object) -> bool:
        """Whether ``name`` is a str shorter than ``MAX_NAME_LENGTH``."""
        return isinstance(name, str) and len(name) < self.MAX_NAME_LENGTH

    def non_local_name(self, name: str) -> str:
        """``name`` up to and including its ``!`` (a process-local channel), else all of it."""
        head, bang, _ = name.partition("!")
        return head + bang
