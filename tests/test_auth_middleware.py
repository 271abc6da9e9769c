"""AuthMiddleware's options and sources, in-process (tests/e2e has the real connections)."""

from __future__ import annotations

from typing import Any

import pytest

from fast_channels.consumer import AsyncJsonWebsocketConsumer
from fast_channels.exceptions import ConfigurationError
from fast_channels.middleware import AnonymousUser, AuthMiddleware
from fast_channels.testing import ApplicationCommunicator, WebsocketCommunicator
from fast_channels.types import Receive, Scope, Send


async def echo_credential(credential: str) -> str | None:
    return None if credential == "nobody" else f"user:{credential}"


class Reporter(AsyncJsonWebsocketConsumer):
    channel_layer_alias = None

    async def connect(self) -> None:
        await self.accept()
        user: object = self.scope["user"]
        await self.send_json(None if isinstance(user, AnonymousUser) else user)


async def user_seen(middleware: AuthMiddleware, path: str = "/", **options: Any) -> Any:
    async with WebsocketCommunicator(middleware, path, **options) as client:
        assert (await client.connect())[0]
        return await client.receive_json_from()


async def test_sources_in_order_header_cookie_session_query() -> None:
    app = AuthMiddleware(
        Reporter.as_asgi(),
        authenticate=echo_credential,
        header="x-api-key",
        scheme=None,
        cookie="sid",
        session_key="user_id",
    )
    api_key, cookie = (b"x-api-key", b"key"), (b"cookie", b"sid=cookie")
    session = {"session": {"user_id": 7}}
    assert await user_seen(app, "/?token=query", headers=[api_key, cookie]) == "user:key"
    assert await user_seen(app, "/?token=query", headers=[cookie], extra_scope=session) == (
        "user:cookie"
    )
    assert await user_seen(app, "/?token=query", extra_scope=session) == "user:7"
    assert await user_seen(app, "/?token=query") == "user:query"
    assert await user_seen(app, "/?other=1") is None
    assert await user_seen(app, "/?token=nobody") is None


@pytest.mark.parametrize(
    "cookie",
    [b'sid="quoted"', b"broken; sid=quoted", b"a=[1,2]; sid=quoted"],
)
async def test_cookies_are_read_leniently(cookie: bytes) -> None:
    app = AuthMiddleware(Reporter.as_asgi(), authenticate=echo_credential, cookie="sid")
    assert await user_seen(app, headers=[(b"cookie", cookie)]) == "user:quoted"


async def test_other_scopes_pass_through_unauthenticated() -> None:
    seen: list[Scope] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)

    async def never_called(credential: str) -> object:
        raise AssertionError("lifespan is not authenticated")

    app = AuthMiddleware(inner, authenticate=never_called, required=True)
    scope: Scope = {"type": "lifespan"}
    await ApplicationCommunicator(app, scope).wait()
    assert seen == [scope]


def test_anonymous_user() -> None:
    user = AnonymousUser()
    assert (user.is_authenticated, user.is_anonymous, user.display_name) == (False, True, "")
    assert user == AnonymousUser()
    assert len({user, AnonymousUser()}) == 1
    assert repr(user) == "AnonymousUser()"


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"authenticate": None}, TypeError),
        ({"header": ""}, ConfigurationError),
        ({"cookie": 1}, ConfigurationError),
        ({"required": "yes"}, ConfigurationError),
    ],
)
def test_options_are_checked(options: dict[str, Any], error: type[Exception]) -> None:
    merged: dict[str, Any] = {"authenticate": echo_credential, **options}
    with pytest.raises(error):
        AuthMiddleware(Reporter.as_asgi(), **merged)
