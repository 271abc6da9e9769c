"""Test ASGI applications and consumers in-process, without a server.

``WebsocketCommunicator`` acts as a WebSocket client, ``HttpCommunicator`` as an HTTP
one; ``ApplicationCommunicator`` drives any ASGI application event by event.
"""

from fast_channels.testing.application import ApplicationCommunicator
from fast_channels.testing.http import HttpCommunicator, HttpResponse
from fast_channels.testing.websocket import WebsocketCommunicator

__all__ = ["ApplicationCommunicator", "HttpCommunicator", "HttpResponse", "WebsocketCommunicator"]
