"""How the local runs print: numbered steps, headings and indented blocks."""

from __future__ import annotations

import itertools

_steps = itertools.count(1)


def step(text: str) -> None:
    print(f"{next(_steps)}. {text}")


def heading(text: str) -> None:
    print(f"\n=== {text} ===\n")


def indent(text: str) -> str:
    return "\n".join(f"   {line}" for line in text.splitlines())
