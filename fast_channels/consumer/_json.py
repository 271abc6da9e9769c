"""The JSON the JSON consumers speak by default: the json module's, except that ``NaN`` and
``Infinity`` (which are not JSON) are refused both ways."""

from __future__ import annotations

import json
from typing import Any, NoReturn

__all__ = ["decode_json_text", "encode_json_text"]


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON (JSON has no NaN or Infinity)")


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)
_ENCODER = json.JSONEncoder(allow_nan=False)


def decode_json_text(text: str) -> Any:
    """The value ``text`` holds: ``ValueError`` when it is not JSON, ``RecursionError`` when
    nested too deeply to decode."""
    return _DECODER.decode(text)


def encode_json_text(content: object) -> str:
    """``content`` as JSON text: ``ValueError`` for a NaN or infinite float, ``TypeError``
    for a value JSON has no form for."""
    return _ENCODER.encode(content)
