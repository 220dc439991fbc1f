"""YAML data files: parsed mappings remember their line; bad files fail with file and line."""

from __future__ import annotations

import pytest

from bot.core.content_error import ContentError
from bot.loaders.yaml_source import load_yaml


def test_mappings_and_lists_know_their_line(tmp_path):
    path = tmp_path / "a.yml"
    path.write_text("top: 1\nitems:\n  - id: a\n  - id: b\n", encoding="utf-8")
    data = load_yaml(path)
    assert data.line == 1
    assert [item.line for item in data["items"]] == [3, 4]


def test_duplicate_keys_are_an_error_with_the_line(tmp_path):
    path = tmp_path / "dup.yml"
    path.write_text("a: 1\nb: 2\na: 3\n", encoding="utf-8")
    with pytest.raises(ContentError, match=r"dup\.yml:3: duplicate key 'a'"):
        load_yaml(path)


def test_syntax_errors_name_file_and_line(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text("a: [1, 2\nb: 3\n", encoding="utf-8")
    with pytest.raises(ContentError, match=r"bad\.yml:\d+: YAML syntax"):
        load_yaml(path)


def test_invalid_utf8_is_named(tmp_path):
    path = tmp_path / "latin1.yml"
    path.write_bytes("a: café\n".encode("latin-1"))
    with pytest.raises(ContentError, match="not valid UTF-8"):
        load_yaml(path)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(ContentError, match="cannot read"):
        load_yaml(tmp_path / "nope.yml")
