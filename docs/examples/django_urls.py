"""The sample Django project's HTTP side: one view, which reaches WebSocket clients.

A synchronous view sends to a group through ``fast_channels.sync.run`` (Channels:
``async_to_sync(get_channel_layer().group_send)(...)``); an ``async def`` view would
``await get_channel_layer().group_send(...)``.
"""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from fast_channels import sync
from fast_channels.layers import get_channel_layer


def announce(request: HttpRequest, room_name: str) -> HttpResponse:
    text = request.GET.get("text", "")
    sync.run(
        get_channel_layer().group_send,
        f"chat_{room_name}",
        {"type": "chat.message", "message": text},
    )
    return HttpResponse(f"sent to {room_name}", content_type="text/plain")


urlpatterns = [path("announce/<str:room_name>/", announce)]
