"""Talk to WebSocket clients from code that is not async: an RQ/Celery task, a thread, a script.

No event loop to manage: ``group_send_sync`` blocks until the message is sent, from any
thread. The layer is built once per process (module level) and reused by every call.

    python -m docs.examples.sync_task     # with REDIS_URL set, clients of the web app see it
"""

from __future__ import annotations

import os
import threading

from fast_channels.layers import BaseChannelLayer, InMemoryChannelLayer


def make_layer() -> BaseChannelLayer:
    url = os.environ.get("REDIS_URL")
    if not url:
        return InMemoryChannelLayer()
    from fast_channels.layers.redis import RedisChannelLayer

    return RedisChannelLayer(hosts=[url], prefix="example")


layer = make_layer()


def report_export_done(user_id: int, url: str) -> None:
    """What a Celery task (``@app.task``) would call at its end."""
    layer.group_send_sync(f"user.{user_id}", {"type": "export.done", "url": url})


def start_job(job: int, image: str) -> None:
    """Hand a job to the thumbnail workers, from sync code."""
    layer.send_sync("thumbnails", {"type": "thumbnail.create", "job": job, "image": image})


def main() -> None:
    threads = [
        threading.Thread(target=report_export_done, args=(n, f"/exports/{n}.csv")) for n in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    start_job(1, "cat.png")
    print("sent")


if __name__ == "__main__":
    main()
