"""Reads YAML data files so that every mapping and list remembers the line it started on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.core.content_error import ContentError


class LocatedDict(dict[str, Any]):
    """A mapping from a YAML file that knows its 1-based line."""

    line: int | None = None


class LocatedList(list[Any]):
    """A sequence from a YAML file that knows its 1-based line."""

    line: int | None = None


# The C parser when PyYAML was built with libyaml (load time matters: triage loads at start-up).
_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LocatingLoader(_Base):  # type: ignore[valid-type,misc]
    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        # Lexicon files hold tens of thousands of terms; only short ASCII scalars can be a number, a boolean or
        # null, so the rest skip PyYAML's regular-expression tag guessing (start-up time).
        if kind is yaml.ScalarNode and implicit[0] and (len(value) > 5 or not value.isascii()):
            return yaml.resolver.BaseResolver.DEFAULT_SCALAR_TAG
        return super().resolve(kind, value, implicit)


def _construct_mapping(loader: _LocatingLoader, node: yaml.MappingNode) -> LocatedDict:
    result = LocatedDict()
    result.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise ContentError("<yaml>", key_node.start_mark.line + 1, f"duplicate key {key!r}")
        result[key] = loader.construct_object(value_node, deep=True)
    return result


def _construct_sequence(loader: _LocatingLoader, node: yaml.SequenceNode) -> LocatedList:
    result = LocatedList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    return result


_LocatingLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LocatingLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def read_text(path: Path) -> str:
    """A UTF-8 text file; a bad encoding or an unreadable file becomes a ContentError naming the file."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ContentError(str(path), None, f"not valid UTF-8 ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise ContentError(str(path), None, f"cannot read: {exc.strerror}") from exc


def load_yaml(path: Path) -> Any:
    """Parse one UTF-8 YAML file; syntax and encoding errors become a ContentError naming file and line."""
    return parse_yaml(str(path), read_text(path))


def parse_yaml(source: str, text: str, first_line: int = 1) -> Any:
    """Parse YAML text from ``source`` whose first line is ``first_line`` of that file."""
    path = source
    offset = first_line - 1
    try:
        return yaml.load(text, Loader=_LocatingLoader)  # noqa: S506 - a SafeLoader subclass
    except ContentError as exc:
        raise ContentError(path, None if exc.line is None else exc.line + offset, exc.message) from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 + offset if mark is not None else None
        raise ContentError(path, line, f"YAML syntax: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise ContentError(path, None, f"YAML: {exc}") from exc
