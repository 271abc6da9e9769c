"""A Channels ``routing.py``, ported: ``path``/``re_path`` come from fast-channels.

The route syntax is Django's (``<str:room_name>``, named regex groups); Django itself is
not needed. ``application`` serves the routes on any ASGI server, with no web framework.
"""

# Django Channels: from django.urls import path, re_path
#                  from channels.routing import ProtocolTypeRouter, URLRouter
from fast_channels.routing import ProtocolTypeRouter, URLRouter, path, re_path

from .channels_consumer import RoomChatConsumer

websocket_urlpatterns = [
    re_path(r"^ws/chat/(?P<room_name>\w+)/$", RoomChatConsumer.as_asgi()),
    path("ws/rooms/<str:room_name>/", RoomChatConsumer.as_asgi()),
]

application = ProtocolTypeRouter({"websocket": URLRouter(websocket_urlpatterns)})
