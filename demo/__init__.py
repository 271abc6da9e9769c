"""The README's demo: chat rooms, notifications and background jobs over fast-channels.

Start it with ``./demo/run`` (or ``python -m demo``); it serves ``http://127.0.0.1:8000``
with the in-memory layer, or with Redis and a separate worker process when ``REDIS_URL``
is set.
"""
