"""Server-Sent Events and long-polling from HTTP consumers that join a group.

``NewsStream`` keeps the response open and sends each ``news.item`` group message as an
SSE event (the browser's ``new EventSource("/news/stream")`` reads them); ``NewsPoll``
answers a request with the next news item (long-polling). ``publish`` sends one to the
group from an ordinary endpoint; any code in any process can, with a Redis layer:
``await get_channel_layer().group_send("news", {"type": "news.item", "headline": ...})``.

Both consumers use the channel layer registered as ``"default"``.
"""

import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fast_channels.consumer import AsyncHttpConsumer
from fast_channels.layers import get_channel_layer
from fast_channels.types import Message


class NewsStream(AsyncHttpConsumer):
    groups = ["news"]  # joined once the request has arrived, before handle()

    async def handle(self, body: bytes) -> None:
        await self.send_headers(
            headers=[(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
        )
        await self.send_body(b": connected\n\n", more_body=True)  # an SSE comment

    async def news_item(self, message: Message) -> None:
        data = json.dumps({"headline": message["headline"]})
        await self.send_body(f"event: news\ndata: {data}\n\n".encode(), more_body=True)


class NewsPoll(AsyncHttpConsumer):
    groups = ["news"]

    async def handle(self, body: bytes) -> None:
        pass  # no answer yet: the next news item completes the response

    async def news_item(self, message: Message) -> None:
        body = json.dumps({"headline": message["headline"]}).encode()
        await self.send_response(200, body, headers=[(b"content-type", b"application/json")])


async def publish(request: Request) -> Response:
    headline = (await request.body()).decode()
    await get_channel_layer().group_send("news", {"type": "news.item", "headline": headline})
    return Response(status_code=204)


app = Starlette(
    routes=[
        Route("/news/stream", NewsStream.as_asgi()),
        Route("/news/poll", NewsPoll.as_asgi()),
        Route("/news", publish, methods=["POST"]),
    ]
)
