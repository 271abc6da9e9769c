"""Unknown layer options: the error that names the layer and the nearest valid option."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Iterable

from fast_channels.exceptions import UnknownOptionError

__all__ = ["keyword_options", "unknown_option"]


def keyword_options(cls: type) -> set[str]:
    """The keyword-only parameters of ``cls.__init__`` (not its ``**`` parameter)."""
    parameters = inspect.signature(cls).parameters.values()
    return {p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}


def unknown_option(cls: type, given: Iterable[str], known: Iterable[str]) -> UnknownOptionError:
    """The error for the options in ``given`` that ``cls`` does not take (``known`` are
    those it takes): it names the class, each unknown option and its nearest valid one."""
    valid = sorted(set(known))
    parts: list[str] = []
    for name in given:
        near = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
        parts.append(f"{name!r} (did you mean {near[0]!r}?)" if near else repr(name))
    return UnknownOptionError(
        f"{cls.__name__}() got an unexpected keyword argument {', '.join(parts)}; "
        f"its options are {', '.join(valid)}"
    )
