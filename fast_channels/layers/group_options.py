"""What a group keeps beyond its memberships, chosen per group name: history, presence events.

Both are opt-in and configured on the layer, by group name pattern, like capacities::

    InMemoryChannelLayer(group_options={"room.*": GroupOptions(history_size=500)})

The first pattern that matches a group's name gives its options; a group no pattern matches
keeps nothing more than its memberships, and its ``group_send`` costs exactly what it costs
without ``group_options``. Every process must configure the layer alike (as for
``channel_capacity``): the options decide what a sender records and what a receiver expects.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

from fast_channels.exceptions import ConfigurationError

__all__ = ["GroupOptions", "GroupOptionsMap", "GroupRules"]


@dataclass(frozen=True, slots=True)
class GroupOptions:
    """Options of the groups whose name matches a pattern of ``group_options=``.

    ``history_size``
        Keep the last ``history_size`` messages sent to the group (0, the default: keep
        none). Each message kept gets the next *offset* of its group, and receivers find its
        position in ``message["position"]``; a receiver that comes back with a position
        gets what it missed (``group_recover``). See :mod:`fast_channels.layers.history`.
    ``history_ttl``
        Seconds a kept message stays recoverable (default 3600): history is bounded by both
        size and age.
    ``presence_events``
        Send ``presence.joined`` / ``presence.left`` messages to the group's members when a
        member joins with ``presence_join`` or leaves (also when its process died and its
        lease ran out). See :mod:`fast_channels.layers.presence`.
    """

    history_size: int = 0
    history_ttl: float = 3600.0
    presence_events: bool = False

    def __post_init__(self) -> None:
        size: object = self.history_size
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ConfigurationError(
                f"history_size must be an int >= 0 (0: keep no history), got {size!r}"
            )
        ttl: object = self.history_ttl
        if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not 0 < ttl < 1e9:
            raise ConfigurationError(
                f"history_ttl must be a positive number of seconds, got {ttl!r}"
            )
        if not isinstance(self.presence_events, bool):
            raise ConfigurationError(
                f"presence_events must be True or False, got {self.presence_events!r}"
            )

    @property
    def keeps_history(self) -> bool:
        """Whether the group keeps its messages (``history_size > 0``)."""
        return self.history_size > 0


GroupOptionsMap = (
    Mapping[str, "GroupOptions"]
    | Mapping[re.Pattern[str], "GroupOptions"]
    | Mapping[str | re.Pattern[str], "GroupOptions"]
)
"""What ``group_options=`` takes: glob patterns (str) or compiled regexes to options."""


class GroupRules:
    """``group_options=`` compiled: the options of a group name, looked up once per name."""

    __slots__ = ("_cache", "patterns")

    def __init__(self, options: GroupOptionsMap | None) -> None:
        if options is None:
            options = {}
        if not isinstance(options, Mapping):
            raise ConfigurationError(
                "group_options must be a mapping of glob pattern (str) or compiled regex to "
                f"GroupOptions, got {type(options).__name__}"
            )
        compiled: list[tuple[re.Pattern[str], GroupOptions]] = []
        items = cast(Mapping[object, object], options).items()
        for pattern, value in items:
            if not isinstance(value, GroupOptions):
                raise ConfigurationError(
                    f"group_options[{pattern!r}] must be a GroupOptions(...), got {value!r}"
                )
            if isinstance(pattern, str):
                compiled.append((re.compile(fnmatch.translate(pattern)), value))
            elif isinstance(pattern, re.Pattern):
                compiled.append((cast(re.Pattern[str], pattern), value))
            else:
                raise ConfigurationError(
                    f"group_options keys must be glob strings or re.Pattern, got {pattern!r}"
                )
        self.patterns: tuple[tuple[re.Pattern[str], GroupOptions], ...] = tuple(compiled)
        """The patterns in the order given; empty when no ``group_options`` were given."""
        self._cache: dict[str, GroupOptions | None] = {}

    def get(self, group: str) -> GroupOptions | None:
        """The options of ``group`` (the first matching pattern's), or None."""
        try:
            return self._cache[group]
        except KeyError:
            pass
        found: GroupOptions | None = None
        for pattern, options in self.patterns:
            if pattern.match(group):
                found = options
                break
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[group] = found
        return found
