"""The Redis protocol encoding of commands: hiredis's (when installed) and ours agree."""

from __future__ import annotations

import enum

from fast_channels.layers.redis._pipe import Arg, pack, pack_in_python


def test_hiredis_and_python_encodings_are_the_same_bytes() -> None:
    commands: list[tuple[Arg, ...]] = [
        ("EVALSHA", "a" * 40, 2, "asgi:in:tok", "asgi:n:tok", "chat.ünïcode!x", 100, b"\0\xff", 0),
        ("BLMPOP", 0.5, 1, "asgi:in:tok", "LEFT", "COUNT", 512),
        ("PUBLISH", b"asgi:g:room", b""),
        ("INCRBY", "n", -42),
    ]
    assert pack(commands) == pack_in_python(commands)
    assert pack_in_python([("SET", "k", 1.5)]) == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\n1.5\r\n"


def test_arguments_hiredis_refuses_are_encoded_all_the_same() -> None:
    class Size(enum.IntEnum):
        SMALL = 5

    class Name(enum.StrEnum):
        ROOM = "room"

    assert pack([("LPUSH", Name.ROOM, Size.SMALL)]) == pack([("LPUSH", "room", 5)])
