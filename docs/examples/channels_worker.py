"""``runworker`` ported: a consumer for named channels, run by ``fast-channels worker``.

Django Channels::

    application = ProtocolTypeRouter({..., "channel": ChannelNameRouter({"thumbnails": ...})})
    $ python manage.py runworker thumbnails

fast-channels (the channel is named on the command line; no router needed)::

    $ fast-channels worker thumbnails --app docs.examples.channels_worker:ThumbnailConsumer \
          --setup docs.examples.channels_worker:setup
"""

import os

import django

from fast_channels.consumer import AsyncConsumer
from fast_channels.types import Message

from .channels_layers import setup_channel_layers


def setup() -> None:
    """The worker's ``--setup``: Django (for models and settings), then the layers."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "docs.examples.django_settings")
    django.setup()
    setup_channel_layers()


class ThumbnailConsumer(AsyncConsumer):
    async def thumbnail_create(self, message: Message) -> None:
        # ... make the thumbnail, then tell the room's WebSocket clients
        await self.channel_layer.group_send(
            f"chat_{message['room']}",
            {"type": "chat.message", "message": f"thumbnail of {message['image']} ready"},
        )
