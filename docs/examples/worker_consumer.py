"""The workers guide's consumer: handles ``thumbnail.create`` messages of a named channel.

(The fuller, tested worker is ``worker_thumbnails.py``.)
"""

# --8<-- [start:sample]
# myproject/workers.py
from fast_channels.consumer import AsyncConsumer
from fast_channels.types import Message


class ThumbnailConsumer(AsyncConsumer):
    async def thumbnail_create(self, message: Message) -> None:
        # make the thumbnail here, then tell the browsers:
        await self.channel_layer.group_send(
            "progress", {"type": "job.progress", "job": message["job"], "percent": 100}
        )


# --8<-- [end:sample]
