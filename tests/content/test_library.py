"""The psychoeducation library as editors and readers rely on it: valid, covered, safe, and findable."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from bot.core.content_error import ContentError
from bot.core.library import AUDIENCES, TOPICS
from bot.loaders.content import article_index, load_library

ROOT = Path(__file__).resolve().parents[2]
CONTENT = ROOT / "content"
# Words that would describe a method or means; psychoeducation never needs them.
METHOD_WORDS = ("刀片", "美工刀", "安眠药", "农药", "百草枯", "上吊", "割腕", "烧炭", "跳楼", "几楼", "剂量",
                "overdose", "razor", "blade", "pills", "hanging", "jump off", "noose")  # fmt: skip
ALLOWED_NUMBERS = {"12356", "12355", "110", "120", "400-161-9995"}


@pytest.fixture(scope="module")
def library():
    return load_library(CONTENT)


def test_library_size_and_coverage(library) -> None:
    zh = [a for a in library.served if a.lang == "zh"]
    en = [a for a in library.served if a.lang == "en"]
    assert len(zh) >= 60
    assert len(en) >= 25
    assert {t for a in zh for t in a.topics} == set(TOPICS)
    assert {x for a in zh for x in a.audience} == set(AUDIENCES)


def test_every_article_ends_with_a_way_to_a_human(library) -> None:
    for article in library.served:
        ending = article.body[-300:]
        assert re.search(r"12356|心理老师|counsell?or|110|120", ending), article.id


def test_no_article_names_a_method_or_an_unknown_number(library) -> None:
    for article in library.served:
        text = f"{article.title}\n{article.summary}\n{article.body}".casefold()
        assert not [w for w in METHOD_WORDS if w in text], article.id
        numbers = set(re.findall(r"(?<![\d-])\d{3}(?:-\d{3}-\d{4}|\d{2})?(?![\d-])", text))
        phone_like = {n for n in numbers if len(n.replace("-", "")) >= 3 and n not in {"100", "300", "900"}}
        assert phone_like <= ALLOWED_NUMBERS | {n for n in phone_like if len(n) == 3 and n not in {"110", "120"}}, (
            article.id
        )


def test_drafts_are_never_served(tmp_path: Path) -> None:
    shutil.copytree(CONTENT / "articles", tmp_path / "articles")
    path = next((tmp_path / "articles" / "zh").glob("*.md"))
    path.write_text(path.read_text(encoding="utf-8").replace("status: approved", "status: draft"), encoding="utf-8")
    library = load_library(tmp_path)
    assert library.get(path.stem) is None
    assert path.stem not in {a.id for a in library.served}
    assert path.stem in library.articles


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.replace("lang: zh", "lang: fr"), "lang"),
        (lambda t: t.replace("topics: [", "topics: [sadness, "), "unknown codes sadness"),
        (lambda t: t.replace("audience: [", "audience: [grandma, "), "audience"),
        (lambda t: re.sub(r"\nsummary:.*", "", t), "missing fields: summary"),
        (lambda t: t.replace("status: approved", "status: maybe"), "review"),
        (lambda t: t.split("\n---", 1)[0] + "\n---\n太短了。", "body: 4 characters"),
        (lambda t: t.replace("---\n", "", 1), "starts with a `---`"),
        (lambda t: t.replace("\nid: ", "\nid: zh-other-"), "equal the file name"),
    ],
)
def test_bad_articles_are_named_with_file_and_field(tmp_path: Path, change, message: str) -> None:
    folder = tmp_path / "articles" / "zh"
    folder.mkdir(parents=True)
    original = next((CONTENT / "articles" / "zh").glob("*.md"))
    (folder / original.name).write_text(change(original.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(ContentError) as raised:
        load_library(tmp_path)
    assert original.name in str(raised.value)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("question", "lang", "topic"),
    [
        ("考试前一晚紧张得睡不着怎么办", "zh", "exam_anxiety"),
        ("孩子天天玩手机，怎么和他谈", "zh", "internet_use"),
        ("在學校被同學欺負了", "zh", "bullying"),
        ("how do I calm down when my heart is racing", "en", "anxiety"),
    ],
)
def test_search_finds_the_topic(question: str, lang: str, topic: str) -> None:
    hits = article_index(CONTENT).search(question, lang=lang)
    assert any(topic in hit.article.topics for hit in hits[:3])
    assert all(hit.article.lang == lang for hit in hits)


def test_search_filters_by_audience_and_handles_empty_questions() -> None:
    index = article_index(CONTENT)
    assert all("parent" in h.article.audience for h in index.search("孩子不愿意说话", audience="parent"))
    assert index.search("？？？") == []
