"""Regressions of the per-(class, type) handler cache: the attribute actually called is
the one checked (instance attributes shadowing a handler, sync class handlers)."""

from __future__ import annotations

import pytest

from fast_channels.consumer import AsyncConsumer
from fast_channels.exceptions import ConsumerError, UnknownMessageTypeError
from fast_channels.types import Message


async def test_an_instance_attribute_shadowing_a_cached_handler_is_still_checked() -> None:
    """One instance's handler got "user" cached for the class; another instance whose
    `user` attribute is data must get UnknownMessageTypeError (got TypeError: 'NoneType'
    object is not callable)."""

    class Profile(AsyncConsumer):
        async def user(self, message: Message) -> None:
            pass

    await Profile().dispatch({"type": "user"})  # checked and cached for Profile
    other = Profile()
    vars(other)["user"] = None  # e.g. `self.user = scope.get("user")`
    with pytest.raises(UnknownMessageTypeError):
        await other.dispatch({"type": "user"})


async def test_a_sync_class_handler_is_refused_even_after_an_instance_override() -> None:
    """An async handler set on one instance caches the type for the class (the check saw
    the instance attribute, the cache condition looks at the class); other instances then
    RUN the class's sync method and await its None (TypeError instead of ConsumerError)."""
    ran: list[str] = []

    class Legacy(AsyncConsumer):
        def ping(self, message: Message) -> None:  # sync: must be refused
            ran.append("sync")

    async def ping(message: Message) -> None:
        ran.append("async")

    patched = Legacy()
    vars(patched)["ping"] = ping
    await patched.dispatch({"type": "ping"})
    with pytest.raises(ConsumerError, match="must be `async def`"):
        await Legacy().dispatch({"type": "ping"})
    assert ran == ["async"]  # got ["async", "sync"]
