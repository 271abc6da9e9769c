"""``fast-channels worker`` / ``python -m fast_channels worker``: options, errors, a whole run."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from fast_channels.__main__ import main
from fast_channels.layers import registered_aliases
from tests.servers import RedisProcess


def test_help_explains_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["worker", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for needle in ("CHANNEL", "--app", "--layer", "--setup", "--concurrency", "SIGTERM"):
        assert needle in text
    assert "(default: 1, one after the other, in order)" in " ".join(text.split())


def test_python_m_and_the_console_script_both_run() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fast_channels", "worker", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert "usage: fast-channels worker" in done.stdout


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--app", "nocolon"], "must look like module:attribute"),
        (["--app", "no_such_module_xyz:X"], "could not import 'no_such_module_xyz'"),
        (["--app", "tests.worker.apps:Nope"], "has no attribute 'Nope'"),
        (["--app", "tests.worker.apps:job"], "AsyncConsumer subclass"),
        (["--app", "tests.worker.apps:ThumbnailConsumer"], "no channel layer is registered"),
        (
            ["--app", "tests.worker.apps:ThumbnailConsumer", "--setup", "tests.worker.apps:X"],
            "has no attribute 'X'",
        ),
        (
            ["--app", "tests.worker.apps:ThumbnailConsumer", "--setup", "tests.worker.apps:job"],
            "--setup 'tests.worker.apps:job' failed: TypeError: job() missing",
        ),
        (
            ["--app", "tests.worker.apps:ThumbnailConsumer", "--setup", "tests:__name__"],
            "is not callable",
        ),
        (
            ["--app", "tests.worker.apps:ChatSocket", "--setup", "tests.worker.apps:memory_setup"],
            "'websocket' connections",
        ),
        (
            [
                "--app",
                "tests.worker.apps:ThumbnailConsumer",
                "--setup",
                "tests.worker.apps:memory_setup",
            ],
            "the layer registered as 'default' is an InMemoryChannelLayer, which only its own "
            "process can reach: this worker would never receive what your application sends. "
            "Register a RedisChannelLayer",
        ),
    ],
)
def test_configuration_errors_exit_2_with_the_reason(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["worker", "thumbnails", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fast-channels worker: error: ")
    assert message in err
    assert registered_aliases() == []  # layers set up are closed and unregistered


def test_bad_concurrency_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["worker", "x", "--app", "a:b", "--concurrency", "0"])
    assert exit_info.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["worker", "x", "--app", "a:b", "--concurrency", "many"])
    assert "not an integer" in capsys.readouterr().err


@pytest.mark.redis
def test_a_whole_run_until_sigterm(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, redis_server: RedisProcess
) -> None:
    """--setup registers a Redis layer and queues 2 jobs and a message whose handler
    sends SIGTERM to this process: the worker handles all three and exits 0."""
    caplog.set_level(logging.INFO, logger="fast_channels.worker")
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    status = main(
        [
            "worker",
            "thumbnails",
            "--app",
            "tests.worker.apps:ThumbnailConsumer",
            "--setup",
            "tests.worker.apps:redis_selfstop_setup",
            "--concurrency",
            "1",
        ]
    )
    assert status == 0
    messages = [r.getMessage() for r in caplog.records if r.name == "fast_channels.worker"]
    assert messages[0].endswith("receiving from 'thumbnails' on layer 'default' (concurrency 1)")
    assert "handler for message type 'thumbnail.create' on channel 'thumbnails' failed" in messages
    assert any(m.startswith("received SIGTERM: finishing ") for m in messages)
    assert messages[-1].endswith("stopped: 2 handled, 1 failed, 0 cancelled")
    assert registered_aliases() == []
