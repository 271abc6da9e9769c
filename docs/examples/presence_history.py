"""Presence and history on any layer: who is in a room, and what a client missed.

``configure()`` builds a layer whose ``room.*`` groups keep their last 500 messages for an
hour and tell their members who joins and leaves; the functions below are what an HTTP
endpoint, a worker or a consumer calls. It runs in CI on the in-memory and the Redis layers.
"""

from fast_channels.layers import (
    BaseChannelLayer,
    GroupOptions,
    InMemoryChannelLayer,
    Position,
    Recovered,
)

ROOMS = {"room.*": GroupOptions(history_size=500, history_ttl=3600, presence_events=True)}


def configure() -> BaseChannelLayer:
    # Every process configures the layer alike; RedisChannelLayer and
    # RedisPubSubChannelLayer take the same options.
    return InMemoryChannelLayer(group_options=ROOMS, presence_lease=10)


async def who_is_online(layer: BaseChannelLayer, room: str) -> list[str]:
    present = await layer.presence(room)  # channel -> info, in every process
    return sorted(str(user) for user in present.users("user"))  # one entry per user


async def enter(layer: BaseChannelLayer, room: str, channel: str, user: str) -> None:
    # A member of the group, present with its info until it leaves (group_discard) or its
    # process dies (then within about presence_lease seconds).
    await layer.presence_join(room, channel, {"user": user})


async def catch_up(
    layer: BaseChannelLayer, room: str, channel: str, since: str
) -> list[dict[str, object]] | None:
    """What ``channel`` missed since the position its client sent back; None: reload."""
    result = await layer.group_recover(room, channel, Position.parse(since))
    if not isinstance(result, Recovered):
        return None  # result.reason says why; go on from result.position after reloading
    missed = list(result.messages)  # oldest first, each with its "position"
    while True:  # then the live ones, skipping those the recovery already returned
        live = await layer.receive(channel)
        if not result.covers(live):
            missed.append(live)
            return missed
