"""The ``xinqiao`` command as other tools drive it: a real subprocess, real stdin and stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(args: list[str], stdin: bytes = b"", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=60,
        check=False,
    )


def lines(result: subprocess.CompletedProcess[bytes]) -> list[dict[str, object]]:
    return [json.loads(line) for line in result.stdout.decode("utf-8").splitlines()]


def test_triage_answers_one_json_object_per_line_in_order():
    messages = ["我不想活了", "今天天气不错", "药都准备好了，今晚就走", "", "I want to kill myself"]
    result = run(["triage"], "\n".join(messages).encode() + b"\n")
    assert result.returncode == 0, result.stderr
    out = lines(result)
    assert [o["level"] for o in out] == ["orange", "none", "red", "none", "orange"]
    for obj in out:
        assert set(obj) == {"level", "categories", "cues"}
        assert isinstance(obj["categories"], list)
        assert isinstance(obj["cues"], list)
    assert "suicide" in out[0]["categories"]
    assert out[1] == {"level": "none", "categories": [], "cues": []}


def test_triage_handles_crlf_and_a_missing_final_newline():
    result = run(["triage"], "我想死\r\n你好".encode())
    assert [o["level"] for o in lines(result)] == ["orange", "none"]


def test_triage_explain_adds_reasons():
    result = run(["triage", "--explain"], "想死，安眠药已经攒够了\n".encode())
    (obj,) = lines(result)
    assert obj["level"] == "red"
    assert obj["explanation"]
    assert any("rule" in reason for reason in obj["explanation"])


def test_a_long_line_is_assessed_on_its_whole_text():
    filler = "今天的作业很多，" * 700  # about 5,600 characters
    result = run(["triage"], (filler + "但我真的不想活了\n").encode())
    (obj,) = lines(result)
    assert obj["level"] == "orange"


def test_invalid_utf8_is_a_clear_error_after_the_good_lines():
    result = run(["triage"], "你好\n".encode() + b"\xff\xfe broken\n" + "我想死\n".encode())
    assert result.returncode == 2
    assert [o["level"] for o in lines(result)] == ["none"]
    err = result.stderr.decode()
    assert "line 2 is not valid UTF-8" in err
    assert "Traceback" not in err


def test_empty_input_prints_nothing_and_succeeds():
    result = run(["triage"])
    assert result.returncode == 0
    assert result.stdout == b""


def test_hotlines_for_nanning_lists_local_then_national_then_emergency():
    result = run(["hotlines", "--region", "450100"])
    assert result.returncode == 0
    text = result.stdout.decode()
    for number in ("0771-2628005", "0771-3290001", "12356", "400-161-9995", "12355", "110", "120"):
        assert number in text
    assert "966525" not in text
    assert text.index("0771-2628005") < text.index("12356") < text.index("110")


def test_hotlines_for_a_district_of_nanchang_include_the_city_lines():
    text = run(["hotlines", "--region", "360102", "--lang", "en"]).stdout.decode()
    assert "966525" in text
    assert "0771" not in text


def test_hotlines_rejects_a_malformed_region():
    result = run(["hotlines", "--region", "nanning"])
    assert result.returncode == 2
    assert "6-digit" in result.stderr.decode()


def test_bad_configuration_names_the_variable():
    result = run(["triage"], b"hi\n", env={"XINQIAO_TIMEZONE": "Mars/Olympus"})
    assert result.returncode == 2
    assert "XINQIAO_TIMEZONE" in result.stderr.decode()


def test_a_broken_lexicon_is_reported_with_file_and_line(tmp_path):
    content = tmp_path / "content"
    (content / "risk" / "zh").mkdir(parents=True)
    (content / "risk" / "en").mkdir()
    (content / "risk" / "rules.yml").write_text("rules: []\n", encoding="utf-8")
    (content / "risk" / "zh" / "bad.yml").write_text(
        "lang: zh\ncategory: suicide\nentries:\n  - id: a\n    role: ideation\n    level: purple\n    terms: [想死]\n",
        encoding="utf-8",
    )
    result = run(["triage"], b"hi\n", env={"XINQIAO_CONTENT_DIR": str(content)})
    assert result.returncode == 2
    err = result.stderr.decode()
    assert "bad.yml:4" in err
    assert "purple" in err


@pytest.mark.parametrize(("lang", "expected"), [("zh", "12356"), ("en", "12356")])
def test_demo_shows_level_cues_and_the_reply(lang, expected):
    result = run(["demo", "--lang", lang, "--region", "450100"], "我不想活了\n".encode())
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    assert '"level": "orange"' in out
    assert "不想活" in out
    assert expected in out
    assert "0771-2628005" in out


def test_ask_prints_ranked_results_in_the_contract_shape():
    result = run(["ask", "--lang", "zh", "考试前紧张睡不着怎么办"])
    assert result.returncode == 0, result.stderr
    results = json.loads(result.stdout)["results"]
    assert 1 <= len(results) <= 5
    assert set(results[0]) == {"id", "title", "topics", "audience", "lang", "score"}
    assert all(r["lang"] == "zh" for r in results)
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)
    assert any("exam_anxiety" in r["topics"] or "sleep" in r["topics"] for r in results[:3])


def test_ask_filters_by_audience_and_refuses_bad_input():
    parents = json.loads(run(["ask", "--audience", "parent", "孩子总玩手机"]).stdout)["results"]
    assert parents
    assert all("parent" in r["audience"] for r in parents)
    assert run(["ask", "--audience", "grandma", "x"]).returncode == 2
    assert run(["ask", "  "]).returncode == 2


def test_content_check_reports_coverage_and_names_a_broken_file(tmp_path):
    ok = run(["content", "check"])
    assert ok.returncode == 0, ok.stderr
    assert "content is valid" in ok.stdout.decode()
    assert "topic:left_behind" in ok.stdout.decode()
    broken = tmp_path / "content"
    import shutil

    shutil.copytree(ROOT / "content", broken)
    article = next((broken / "articles" / "zh").glob("*.md"))
    article.write_text(article.read_text(encoding="utf-8").replace("lang: zh", "lang: xx"), encoding="utf-8")
    bad = run(["content", "check"], env={"XINQIAO_CONTENT_DIR": str(broken)})
    assert bad.returncode == 2
    assert article.name in bad.stderr.decode()
