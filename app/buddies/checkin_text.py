"""Reading a check-in: the "energy: N" line and words of burnout. Pure text."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# "energy: 3", "Energie: 2", "energía: 4/5", "**Energy** - 5", "> energy = 1"; the
# rest of the line after the number is kept as text ("energy: 2, tired").
_ENERGY = re.compile(
    r"[ \t>*_]*(?:energy|energie|energía|energia|énergie)[ \t*_]*[:=\-–][ \t]*"
    r"(\d{1,2})(?![\d.,]\d)(?:[ \t]*/[ \t]*(?:5|10))?[ \t]*[.!]?[ \t]*(?:[,;:\-–—][ \t]*)?(.*)",
    re.IGNORECASE,
)


def extract_energy(text: str) -> tuple[str, int | None]:
    """(text without the energy line, energy 1-5 or None). Only the first line
    with a score between 1 and 5 counts; other text stays as it was."""
    lines = text.replace("\r\n", "\n").split("\n")
    for index, line in enumerate(lines):
        match = _ENERGY.fullmatch(line.strip())
        if match is None or "/10" in line.replace(" ", "") or not 1 <= int(match.group(1)) <= 5:
            continue
        rest = match.group(2).strip()
        kept = [*lines[:index], *([rest] if rest else []), *lines[index + 1 :]]
        return _tidy("\n".join(kept)), int(match.group(1))
    return _tidy(text), None


def _tidy(text: str) -> str:
    text = re.sub(r"\n{3,}", "\n\n", text.replace("\r\n", "\n"))
    return text.strip()


def _normal(text: str) -> str:
    text = unicodedata.normalize("NFC", text).casefold()
    return text.replace("\u2019", "'").replace("\u2018", "'")


def burnout_words(text: str, words: Iterable[str]) -> list[str]:
    """The listed words or phrases found in `text` as whole words, ignoring case."""
    haystack = " ".join(_normal(text).split())
    found = []
    for word in words:
        needle = " ".join(_normal(word).split())
        if needle and re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", haystack):
            found.append(word)
    return sorted(set(found))
