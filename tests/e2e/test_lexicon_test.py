"""``xinqiao lexicon test`` as a counselor runs it after editing the lexicon: a real git checkout, a real
subprocess, the changed messages listed and a red or orange message newly missed failing the check."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.test_cli import ROOT, run

SET = """items:
- text: 我不想活了
  level: orange
- text: 今天天气不错
  level: none
- text: 药都准备好了，今晚就走
  level: red
- text: 有
  level: orange
  bot_asked: thoughts
"""
# A mask over the very words of a labelled orange message: the kind of edit that must not go live unnoticed.
MASK = """lang: zh
category: suicide
entries:
- id: zh.test.bad_mask
  role: hyperbole
  level: none
  terms: [我不想活了]
"""
ALARM = """lang: zh
category: distress
entries:
- id: zh.test.weather
  role: distress
  level: orange
  terms: [天气不错]
"""


def git(where: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(where), *args], check=True, capture_output=True)  # noqa: S603, S607


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A repository holding a copy of the lexicon, committed; the set beside it."""
    shutil.copytree(ROOT / "content" / "risk", tmp_path / "content" / "risk")
    (tmp_path / "set.yml").write_text(SET, encoding="utf-8")
    git(tmp_path, "init", "-q")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.org", "add", ".")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "lexicon")
    return tmp_path


def lexicon_test(checkout: Path, *extra: str) -> subprocess.CompletedProcess[bytes]:
    env = {"XINQIAO_CONTENT_DIR": str(checkout / "content")}
    return run(["lexicon", "test", "--set", str(checkout / "set.yml"), *extra], env=env)


def test_an_unchanged_lexicon_scores_the_set_and_changes_nothing(checkout: Path) -> None:
    result = lexicon_test(checkout)
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr
    assert "labelled/got" in out
    assert "red below orange: 0" in out
    assert "changed against HEAD: 0" in out


def test_a_new_false_alarm_is_listed_as_worse(checkout: Path) -> None:
    (checkout / "content" / "risk" / "zh" / "weather.yml").write_text(ALARM, encoding="utf-8")
    result = lexicon_test(checkout)
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr
    assert "changed against HEAD: 1" in out
    assert "WORSE" in out
    assert "none → orange" in out
    assert "今天天气不错" in out


def test_an_edit_that_hides_a_serious_message_fails_the_check(checkout: Path) -> None:
    (checkout / "content" / "risk" / "zh" / "bad_mask.yml").write_text(MASK, encoding="utf-8")
    result = lexicon_test(checkout)
    out = result.stdout.decode()
    assert result.returncode == 1
    assert "orange → none" in out
    assert "我不想活了" in out
    assert "check failed: 1 serious message" in out


def test_against_a_folder(checkout: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    before = tmp_path_factory.mktemp("before") / "risk"
    shutil.copytree(checkout / "content" / "risk", before)
    (checkout / "content" / "risk" / "zh" / "weather.yml").write_text(ALARM, encoding="utf-8")
    result = lexicon_test(checkout, "--against", str(before))
    assert result.returncode == 0, result.stderr
    assert "changed against " in result.stdout.decode()
    assert "none → orange" in result.stdout.decode()


def test_an_unknown_revision_is_a_clear_error(checkout: Path) -> None:
    result = lexicon_test(checkout, "--against", "no-such-revision")
    assert result.returncode == 2
    assert "no-such-revision" in result.stderr.decode()


def test_a_malformed_set_names_its_file_and_line(checkout: Path) -> None:
    (checkout / "set.yml").write_text("items:\n- text: 你好\n  level: purple\n", encoding="utf-8")
    result = lexicon_test(checkout)
    assert result.returncode == 2
    error = result.stderr.decode()
    assert "set.yml:2: level must be one of" in error
