# Type stubs for the parts of msgpack that fast-channels uses (msgpack ships none).
from collections.abc import Callable
from typing import Any

class ExtraData(ValueError): ...
class FormatError(ValueError): ...
class StackError(ValueError): ...

def packb(
    o: Any,
    *,
    use_bin_type: bool = ...,
    default: Callable[[Any], Any] | None = ...,
    strict_types: bool = ...,
) -> bytes: ...
def unpackb(
    packed: bytes,
    *,
    raw: bool = ...,
    strict_map_key: bool = ...,
    use_list: bool = ...,
) -> object: ...
