"""What the optional parts of a layer (history, presence) use of the layer they belong to.

:class:`~fast_channels.layers.base.BaseChannelLayer` inherits the parts and defines every
name declared here; the parts only declare them, so each part's module stays about its own
concept.
"""

from __future__ import annotations

from fast_channels.layers._local import LocalCore
from fast_channels.layers.group_options import GroupRules
from fast_channels.serialization import Serializer

__all__ = ["LayerParts"]


class LayerParts:
    """The names a layer part uses, defined by ``BaseChannelLayer``."""

    serializer: Serializer
    local: LocalCore
    _group_rules: GroupRules

    def _check_open(self) -> None:
        raise NotImplementedError

    def encode(self, message: object) -> bytes:
        """Validate ``message`` and encode it once."""
        raise NotImplementedError

    async def group_add(self, group: str, channel: str) -> None:
        """Make ``channel`` a member of ``group``."""
        raise NotImplementedError

    async def _group_send(self, group: str, data: bytes) -> None:
        raise NotImplementedError
