"""ProtocolTypeRouter / URLRouter / path / re_path, driven in-process by the communicators."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from fast_channels.exceptions import ConfigurationError
from fast_channels.routing import ProtocolTypeRouter, Route, URLRouter, path, re_path
from fast_channels.testing import ApplicationCommunicator, WebsocketCommunicator
from fast_channels.types import ASGIApp, Receive, Scope, Send


class Recorder:
    """An ASGI app that keeps the scopes it was called with and accepts WebSockets."""

    def __init__(self) -> None:
        self.scopes: list[Scope] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scopes.append(scope)
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})
        elif scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})

    @property
    def scope(self) -> Scope:
        return self.scopes[-1]


async def connects(app: ASGIApp, ws_path: str) -> bool:
    async with WebsocketCommunicator(app, ws_path) as client:
        accepted, _ = await client.connect()
        return accepted


async def http_get(app: ASGIApp, http_path: str) -> tuple[int, bytes]:
    scope: Scope = {"type": "http", "method": "GET", "path": http_path, "root_path": ""}
    client = ApplicationCommunicator(app, scope)
    await client.send_input({"type": "http.request", "body": b"", "more_body": False})
    start = await client.receive_output()
    body = await client.receive_output()
    await client.wait()
    return start["status"], body["body"]


@pytest.mark.parametrize(
    ("route", "ws_path", "kwargs"),
    [
        ("chat/<str:room>/", "/chat/lobby/", {"room": "lobby"}),
        ("chat/<room>/", "/chat/lobby/", {"room": "lobby"}),
        ("items/<int:n>/", "/items/42/", {"n": 42}),
        ("posts/<slug:s>", "/posts/a-b_c", {"s": "a-b_c"}),
        (
            "obj/<uuid:u>/",
            "/obj/12345678-1234-5678-1234-567812345678/",
            {"u": uuid.UUID("12345678-1234-5678-1234-567812345678")},
        ),
        ("files/<path:p>", "/files/a/b/c.txt", {"p": "a/b/c.txt"}),
        ("/leading/<str:x>/", "/leading/y/", {"x": "y"}),
    ],
)
async def test_path_converters_fill_path_params_and_url_route(
    route: str, ws_path: str, kwargs: dict[str, object]
) -> None:
    app = Recorder()
    assert await connects(URLRouter([path(route, app)]), ws_path)
    assert app.scope["path_params"] == kwargs
    assert app.scope["url_route"] == {"args": (), "kwargs": kwargs}
    assert app.scope["path"] == ws_path


@pytest.mark.parametrize(
    "ws_path", ["/chat/lobby/extra/", "/chat/lobby", "/chat//", "/items/x/", "/obj/NOT-A-UUID/"]
)
async def test_a_path_route_must_match_the_whole_path(ws_path: str) -> None:
    app = Recorder()
    router = URLRouter(
        [
            path("chat/<str:room>/", app),
            path("items/<int:n>/", app),
            path("obj/<uuid:u>/", app),
        ]
    )
    assert not await connects(router, ws_path)
    assert app.scopes == []


async def test_re_path_named_groups_are_kwargs_and_unnamed_ones_args() -> None:
    named, unnamed = Recorder(), Recorder()
    router = URLRouter(
        [
            re_path(r"^game/(?P<game>[0-9]+)/(?P<side>[a-z]+)?/?$", named),
            re_path(r"^pos/([0-9]+)/([0-9]+)/$", unnamed),
        ]
    )
    assert await connects(router, "/game/7/")
    assert named.scope["url_route"] == {"args": (), "kwargs": {"game": "7"}}
    assert await connects(router, "/pos/3/4/")
    assert unnamed.scope["url_route"] == {"args": ("3", "4"), "kwargs": {}}
    assert unnamed.scope["path_params"] == {}


async def test_re_path_is_searched_like_django_and_dollar_means_the_whole_path() -> None:
    loose, strict = Recorder(), Recorder()
    router = URLRouter([re_path(r"^loose/", loose), re_path(r"^strict/$", strict)])
    assert await connects(router, "/loose/anything/after")
    assert not await connects(router, "/strict/more")
    assert await connects(router, "/strict/")
    assert len(strict.scopes) == 1


async def test_the_first_matching_route_wins() -> None:
    first, second = Recorder(), Recorder()
    router = URLRouter([path("a/<str:x>/", first), path("a/b/", second)])
    assert await connects(router, "/a/b/")
    assert (len(first.scopes), len(second.scopes)) == (1, 0)


async def test_nested_routers_merge_parameters_and_extend_root_path() -> None:
    app = Recorder()
    inner = URLRouter([path("chat/<str:room>/", app)])
    router = URLRouter([path("org/<int:org>/", inner), re_path(r"^v([0-9])/", inner)])
    assert await connects(router, "/org/5/chat/lobby/")
    assert app.scope["path_params"] == {"org": 5, "room": "lobby"}
    assert app.scope["url_route"] == {"args": (), "kwargs": {"org": 5, "room": "lobby"}}
    assert app.scope["root_path"] == "/org/5"
    assert app.scope["path"] == "/org/5/chat/lobby/"
    assert await connects(router, "/v2/chat/x/")
    assert app.scope["url_route"] == {"args": ("2",), "kwargs": {"room": "x"}}
    assert app.scope["root_path"] == "/v2"
    assert not await connects(router, "/org/5/chat/lobby/more/")


async def test_an_empty_prefix_keeps_the_root_path() -> None:
    app = Recorder()
    router = URLRouter([path("", URLRouter([path("x/", app)]))])
    assert await connects(router, "/x/")
    assert app.scope["root_path"] == ""


async def test_a_router_mounted_in_starlette_routes_below_the_mount() -> None:
    app = Recorder()
    router = URLRouter([path("chat/<str:room>/", app)])
    starlette = Starlette(routes=[Mount("/org/{org}", app=router)])
    assert await connects(starlette, "/org/acme/chat/lobby/")
    assert app.scope["path_params"] == {"org": "acme", "room": "lobby"}
    assert app.scope["url_route"]["kwargs"] == {"room": "lobby"}


async def test_the_servers_scope_is_never_changed() -> None:
    app = Recorder()
    router = URLRouter([path("x/<str:y>/", app)])
    client = WebsocketCommunicator(router, "/x/z/")
    async with client:
        await client.connect()
    assert "path_params" not in client.scope
    assert "url_route" not in client.scope
    assert app.scope is not client.scope


async def test_no_route_rejects_the_websocket_handshake() -> None:
    router = URLRouter([path("known/", Recorder())])
    async with WebsocketCommunicator(router, "/unknown/") as client:
        assert await client.connect() == (False, 1000)


async def test_no_route_answers_http_with_404() -> None:
    app = Recorder()
    router = URLRouter([path("known/", app)])
    assert await http_get(router, "/unknown/") == (404, b"Not Found")
    assert await http_get(router, "/known/") == (200, b"ok")


async def test_a_client_gone_before_the_handshake_gets_nothing_sent() -> None:
    scope: Scope = {"type": "websocket", "path": "/nowhere/", "root_path": ""}
    client = ApplicationCommunicator(URLRouter([]), scope)
    await client.send_input({"type": "websocket.disconnect", "code": 1001})
    await client.wait()
    assert await client.receive_nothing()


async def test_url_router_needs_a_path() -> None:
    client = ApplicationCommunicator(URLRouter([]), {"type": "custom"})
    with pytest.raises(ConfigurationError, match="routes by path"):
        await client.wait()


async def lifespan_round(app: ASGIApp) -> list[str]:
    client = ApplicationCommunicator(app, {"type": "lifespan", "asgi": {"version": "3.0"}})
    await client.send_input({"type": "lifespan.startup"})
    answers = [(await client.receive_output())["type"]]
    await client.send_input({"type": "lifespan.shutdown"})
    answers.append((await client.receive_output())["type"])
    await client.wait()
    return answers


COMPLETE = ["lifespan.startup.complete", "lifespan.shutdown.complete"]


async def test_routers_answer_lifespan_when_no_app_takes_it() -> None:
    assert await lifespan_round(URLRouter([path("x/", Recorder())])) == COMPLETE
    assert await lifespan_round(ProtocolTypeRouter({"http": Recorder()})) == COMPLETE


async def test_protocol_type_router_passes_lifespan_to_the_mapped_app() -> None:
    events: list[str] = []

    async def lifespan(scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            event = await receive()
            events.append(event["type"])
            await send({"type": event["type"] + ".complete"})
            if event["type"] == "lifespan.shutdown":
                return

    router = ProtocolTypeRouter({"http": Recorder(), "lifespan": lifespan})
    assert await lifespan_round(router) == COMPLETE
    assert events == ["lifespan.startup", "lifespan.shutdown"]


async def test_protocol_type_router_dispatches_by_scope_type() -> None:
    http, ws = Recorder(), Recorder()
    router = ProtocolTypeRouter({"http": http, "websocket": URLRouter([path("ws/", ws)])})
    assert await http_get(router, "/anything") == (200, b"ok")
    assert await connects(router, "/ws/")
    assert (len(http.scopes), len(ws.scopes)) == (1, 1)


async def test_protocol_type_router_refuses_unmapped_types() -> None:
    assert not await connects(ProtocolTypeRouter({"http": Recorder()}), "/ws/")
    assert await http_get(ProtocolTypeRouter({"websocket": Recorder()}), "/") == (
        404,
        b"Not Found",
    )
    client = ApplicationCommunicator(ProtocolTypeRouter({"http": Recorder()}), {"type": "x"})
    with pytest.raises(ConfigurationError, match="no application for 'x'"):
        await client.wait()


# What untyped callers may pass; the type checkers would refuse it from typed code.
NOT_AN_APP: Any = "not an app"
NOT_A_STR: Any = b"a/"
NOT_ROUTES: Any = "a/"
TUPLE_ROUTES: Any = [("a/", Recorder())]
STR_APPS: Any = {"http": "app"}


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: path("a/<nope:x>/", Recorder()), "unknown converter 'nope'"),
        (lambda: path("a/{room}/", Recorder()), "write '<str:room>'"),
        (lambda: path("a/{n:int}/", Recorder()), "write '<int:n>'"),
        (lambda: path("a/<str:9x>/", Recorder()), "not a Python identifier"),
        (lambda: path("<x>/<int:x>/", Recorder()), "appears twice"),
        (lambda: path("a/<x/", Recorder()), "unbalanced"),
        (lambda: path("a/x>/", Recorder()), "unbalanced"),
        (lambda: re_path(r"^/a/$", Recorder()), "without their leading '/'"),
        (lambda: re_path(r"^a/(", Recorder()), "not a valid regex"),
        (lambda: ProtocolTypeRouter({}), "at least one application"),
    ],
)
def test_bad_patterns_fail_at_declaration(make: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        make()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: path("a/", NOT_AN_APP), "needs an ASGI app"),
        (lambda: path(NOT_A_STR, Recorder()), "needs a str pattern"),
        (lambda: path("a/", Recorder(), name=NOT_A_STR), "name must be a str"),
        (lambda: URLRouter(NOT_ROUTES), "list of routes"),
        (lambda: URLRouter(TUPLE_ROUTES), "made by"),
        (lambda: ProtocolTypeRouter(NOT_ROUTES), "mapping of scope types"),
        (lambda: ProtocolTypeRouter(STR_APPS), "maps scope types"),
    ],
)
def test_wrong_types_are_type_errors_at_declaration(make: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        make()


def test_routes_say_what_they_are() -> None:
    app = Recorder()
    route = path("chat/<str:room>/", app, name="chat")
    assert isinstance(route, Route)
    assert (route.kind, route.pattern, route.name, route.prefix) == (
        "path",
        "chat/<str:room>/",
        "chat",
        False,
    )
    assert repr(route).startswith("path('chat/<str:room>/', ")
    assert "name='chat'" in repr(route)
    router = URLRouter([route])
    assert path("p/", router).prefix
    assert repr(router) == f"URLRouter([{route!r}])"
    assert repr(ProtocolTypeRouter({"websocket": router})).startswith("ProtocolTypeRouter(")
    matched = route.match("chat/x/")
    assert matched is not None
    assert (matched.remaining, matched.args, matched.kwargs) == ("", (), {"room": "x"})
    assert route.match("other/") is None
