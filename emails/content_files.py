"""Content files coordinators edit while Hearth runs (sequences, surveys):
parsed once, read again when the file changes, without a restart."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

_cache: dict[Path, tuple[tuple[int, int], object]] = {}


def load_cached(
    path: Path,
    parse: Callable[[Path], tuple[T | None, list[str]]],
    error: type[Exception],
    what: str,
) -> T:
    """`parse(path)` -> (value, problems), cached by the file's mtime and size.

    Raises `error` naming the file when it is missing or has problems."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise error(f"no {what} named {path.stem!r} (looked for {path})") from None
    version = (stat.st_mtime_ns, stat.st_size)
    cached = _cache.get(path)
    if cached is not None and cached[0] == version:
        return cached[1]  # type: ignore[return-value]
    value, problems = parse(path)
    if problems:
        raise error("\n".join(problems))
    assert value is not None
    _cache[path] = (version, value)
    return value
