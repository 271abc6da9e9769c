"""docs/workers.md's consumer sample runs as copied, and is the type-checked example's class."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from fast_channels.consumer import AsyncConsumer
from fast_channels.layers import InMemoryChannelLayer, register_channel_layer
from fast_channels.worker import Worker

ROOT = Path(__file__).resolve().parents[2]


INCLUDE = '--8<-- "docs/examples/worker_thumbnails.py:consumer"'


def consumer_sample() -> str:
    """The code docs/workers.md shows as its consumer: a section of the checked example."""
    text = (ROOT / "docs" / "workers.md").read_text()
    section = text.split("## The consumer\n", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert found is not None, "docs/workers.md lost its consumer sample"
    assert found.group(1).strip() == INCLUDE, "the sample must include the type-checked example"
    example = (ROOT / "docs" / "examples" / "worker_thumbnails.py").read_text()
    return example.split("# --8<-- [start:consumer]\n", 1)[1].split("# --8<-- [end:consumer]")[0]


def test_the_sample_is_the_type_checked_example() -> None:
    sample = consumer_sample()  # mypy --strict and pyright strict check docs/examples
    assert "def thumbnail_create(self, message: Message) -> None:" in sample


async def test_the_copied_sample_reports_progress_to_its_group() -> None:
    namespace: dict[str, Any] = {}
    exec(compile(consumer_sample(), "myproject/workers.py", "exec"), namespace)
    consumer_class: type[AsyncConsumer] = namespace["ThumbnailConsumer"]
    layer = InMemoryChannelLayer()
    register_channel_layer("default", layer)
    watcher = await layer.new_channel()
    await layer.group_add("progress", watcher)
    worker = Worker(consumer_class, ["thumbnails"])
    run = asyncio.create_task(worker.run())
    await layer.send("thumbnails", {"type": "thumbnail.create", "job": 7, "image": "cat.png"})
    percents = [(await layer.receive(watcher))["percent"] for _ in range(3)]
    worker.stop()
    await run
    await layer.aclose()
    assert percents == [0, 50, 100]
