"""A path-aware reader over parsed YAML that collects problems instead of raising.

Each `Node` knows its YAML path (`slos[2].objective`), so every message the
loader writes names the file, the path and the bad value, and one pass reports
every problem at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

T = TypeVar("T")
MISSING = object()


@dataclass
class Problems:
    """The problems found in one file, formatted `<file>: <path>: <message>`."""

    file: str
    items: list[str] = field(default_factory=list)

    def add(self, path: str, message: str) -> None:
        self.items.append(f"{self.file}: {path}: {message}" if path else f"{self.file}: {message}")


@dataclass
class Node:
    """A value found at `path`; `problems` is shared by every node of one file."""

    value: Any
    path: str
    problems: Problems

    def fail(self, message: str) -> None:
        self.problems.add(self.path, message)

    def child_path(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else str(key)

    def mapping(self, allowed: tuple[str, ...]) -> dict[str, Node] | None:
        """The children of a mapping, by key; reports a non-mapping and unknown keys. None if not a mapping."""
        if not isinstance(self.value, dict):
            self.fail(f"expected a mapping, got {_show(self.value)}")
            return None
        children = {}
        for key, value in self.value.items():
            name = str(key)
            if name not in allowed:
                self.problems.add(self.child_path(name), f"unknown key {name!r}; expected one of {', '.join(allowed)}")
            else:
                children[name] = Node(value, self.child_path(name), self.problems)
        return children

    def items(self) -> list[Node]:
        """The children of a list; reports a non-list."""
        if not isinstance(self.value, list):
            self.fail(f"expected a list, got {_show(self.value)}")
            return []
        return [Node(v, self.child_path(i), self.problems) for i, v in enumerate(self.value)]

    def convert(self, parse: Callable[[Any], T]) -> T | None:
        """parse(value), or None after reporting the ValueError/TypeError message."""
        try:
            return parse(self.value)
        except (ValueError, TypeError, OverflowError) as exc:
            self.fail(str(exc))
            return None


def child(children: dict[str, Node] | None, key: str, parent: Node, required: bool = False) -> Node | None:
    """The child `key`, or None; a missing required key is reported on `parent`."""
    if children is not None and key in children and children[key].value is not None:
        return children[key]
    if required and children is not None:
        parent.problems.add(parent.child_path(key), "is required")
    return None


@overload
def text(node: Node | None, default: str) -> str: ...
@overload
def text(node: Node | None, default: None = None) -> str | None: ...
def text(node: Node | None, default: str | None = None) -> str | None:
    """A non-empty string value, or `default` when absent; reports anything else."""
    if node is None:
        return default
    if isinstance(node.value, str) and node.value.strip():
        return node.value.strip()
    node.fail(f"expected a non-empty string, got {_show(node.value)}")
    return default


def number(node: Node | None, minimum: float = 0.0) -> float | None:
    """A finite number >= minimum, or None (reported unless absent)."""
    if node is None:
        return None
    value = node.value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < minimum:
        node.fail(f"expected a number >= {minimum:g}, got {_show(value)}")
        return None
    return float(value)


def strings(node: Node | None) -> tuple[str, ...]:
    """A list of non-empty strings (bad items reported and dropped)."""
    if node is None:
        return ()
    return tuple(s for s in (text(item) for item in node.items()) if s)


def _show(value: Any) -> str:
    """A short quotation of a bad value for messages."""
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."
