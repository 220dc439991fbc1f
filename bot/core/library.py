"""The psychoeducation library: articles with their front matter, validated; only approved ones are served."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol, TypeVar

from bot.core.content_error import ContentError, line_of


class _HasId(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def source(self) -> str: ...


_Identified = TypeVar("_Identified", bound=_HasId)
LANGS = ("zh", "en")
AUDIENCES = ("student_primary", "student_junior", "student_senior", "parent", "teacher")
TOPICS = (
    "emotions", "stress", "exam_anxiety", "sleep", "internet_use", "bullying", "friendship", "parent_child",
    "adolescence", "self_esteem", "grief", "life_education", "career", "school_adjustment", "left_behind",
    "family_education", "warning_signs", "self_harm", "depression", "anxiety", "seeking_help", "online_safety",
    "abuse",
)  # fmt: skip
REVIEW_STATUSES = ("draft", "approved")
MIN_BODY, MAX_BODY = 300, 900
MAX_SUMMARY = {"zh": 80, "en": 200}
# Characters per chat part of an article (about a phone screen).
PART_SIZE = {"zh": 220, "en": 520}
ID_PATTERN = re.compile(r"^(zh|en)-[a-z0-9]+(?:-[a-z0-9]+)*$")
FIELDS = ("id", "title", "lang", "audience", "topics", "summary", "sources", "review")


@dataclass(frozen=True, slots=True)
class Review:
    """Who reviewed an article, when, and with what result."""

    status: str
    reviewer: str
    date: date


@dataclass(frozen=True, slots=True)
class Article:
    """One piece of the library."""

    id: str
    title: str
    lang: str
    audience: tuple[str, ...]
    topics: tuple[str, ...]
    summary: str
    sources: tuple[str, ...]
    review: Review
    body: str
    source: str = field(default="", compare=False)

    @property
    def approved(self) -> bool:
        """Only approved articles are served."""
        return self.review.status == "approved"

    def parts(self, size: int | None = None) -> list[str]:
        """The body in chat-sized parts, split at paragraph ends (a paragraph longer than ``size`` stays whole);
        English reads in fewer, longer parts than Chinese, whose characters each carry more."""
        size = size if size is not None else PART_SIZE[self.lang]
        parts: list[str] = []
        current = ""
        for paragraph in _units(self.body):
            if current and len(current) + len(paragraph) + 2 > size:
                parts.append(current)
                current = paragraph
            else:
                current = f"{current}\n\n{paragraph}" if current else paragraph
        if current:
            parts.append(current)
        return parts


def _units(body: str) -> list[str]:
    """Paragraphs, a heading kept with the paragraph after it: a part never ends on a lone heading."""
    units: list[str] = []
    heading = ""
    for paragraph in (p.strip() for p in body.split("\n\n")):
        if not paragraph:
            continue
        if paragraph.startswith("#") and "\n" not in paragraph:
            heading = f"{heading}\n\n{paragraph}" if heading else paragraph
            continue
        units.append(f"{heading}\n\n{paragraph}" if heading else paragraph)
        heading = ""
    if heading:
        units.append(heading)
    return units


@dataclass(frozen=True, slots=True)
class Library:
    """All articles, by id; ``served`` holds the approved ones."""

    articles: Mapping[str, Article]

    @property
    def served(self) -> list[Article]:
        """Approved articles, in id order."""
        return [a for a in self.articles.values() if a.approved]

    def get(self, article_id: str) -> Article | None:
        """An approved article by id (drafts are never served)."""
        article = self.articles.get(article_id)
        return article if article is not None and article.approved else None

    def coverage(self) -> dict[str, dict[str, int]]:
        """Approved articles per language, per topic and per audience (topic/audience keys prefixed)."""
        table: dict[str, dict[str, int]] = {lang: {} for lang in LANGS}
        for article in self.served:
            counts = table[article.lang]
            for code in [f"topic:{t}" for t in article.topics] + [f"audience:{a}" for a in article.audience]:
                counts[code] = counts.get(code, 0) + 1
        return table


def split_front_matter(source: str, text: str) -> tuple[str, str]:
    """The YAML front matter and the body of a Markdown article."""
    if not text.startswith("---"):
        raise ContentError(source, 1, "an article starts with a `---` line, then YAML front matter, then `---`")
    parts = text.split("\n---", 1)
    if len(parts) != 2:
        raise ContentError(source, 1, "front matter is not closed by a `---` line")
    front = parts[0][3:]
    body = parts[1].split("\n", 1)[1] if "\n" in parts[1] else ""
    return front, body.strip()


@dataclass(frozen=True, slots=True)
class FrontMatter:
    """The fields every piece of content shares (articles, exercises), validated."""

    id: str
    title: str
    lang: str
    audience: tuple[str, ...]
    topics: tuple[str, ...]
    summary: str
    sources: tuple[str, ...]
    review: Review


def parse_front_matter(
    source: str, front: Any, *, fields: Sequence[str], id_pattern: re.Pattern[str], file_stem: str, folder_lang: str
) -> FrontMatter:
    """Validate the shared fields of a content file (exactly ``fields`` present); errors name the file and field."""
    if not isinstance(front, Mapping):
        raise ContentError(source, 1, "front matter must be a YAML mapping")
    missing = [name for name in fields if name not in front]
    if missing:
        raise ContentError(source, line_of(front) or 1, f"missing fields: {', '.join(missing)}")
    unknown = sorted(set(front) - set(fields))
    if unknown:
        raise ContentError(source, line_of(front) or 1, f"unknown fields: {', '.join(unknown)}")
    content_id = text_field(source, front, "id")
    if not id_pattern.match(content_id) or content_id != file_stem:
        raise ContentError(source, 1, f"id: {content_id!r} must be like {id_pattern.pattern} and equal the file name")
    lang = text_field(source, front, "lang")
    if lang not in LANGS or lang != folder_lang or not content_id.startswith(f"{lang}-"):
        raise ContentError(source, 1, f"lang: {lang!r} must be zh or en, match the folder and start the id")
    summary = text_field(source, front, "summary")
    if len(summary) > MAX_SUMMARY[lang]:
        raise ContentError(source, 1, f"summary: {len(summary)} characters, at most {MAX_SUMMARY[lang]}")
    sources = front["sources"]
    if not isinstance(sources, list) or not sources:
        raise ContentError(source, 1, "sources: a list of the public guidance it rests on")
    for number, item in enumerate(sources, start=1):
        if not isinstance(item, str) or not item.strip():
            raise ContentError(
                source, line_of(sources), f"sources: item {number} is not plain text (put it in quotes if it has ': ')"
            )
    return FrontMatter(
        content_id,
        text_field(source, front, "title"),
        lang,
        code_list(source, front, "audience", AUDIENCES),
        code_list(source, front, "topics", TOPICS),
        summary,
        tuple(item.strip() for item in sources),
        parse_review(source, front["review"]),
    )


def parse_article(source: str, front: Any, body: str, *, file_stem: str, folder_lang: str) -> Article:
    """Validate one article's front matter and body; errors name the file and the field."""
    common = parse_front_matter(
        source, front, fields=FIELDS, id_pattern=ID_PATTERN, file_stem=file_stem, folder_lang=folder_lang
    )
    if not MIN_BODY <= len(body) <= MAX_BODY:
        raise ContentError(source, None, f"body: {len(body)} characters, must be {MIN_BODY}-{MAX_BODY}")
    return Article(
        common.id,
        common.title,
        common.lang,
        common.audience,
        common.topics,
        common.summary,
        common.sources,
        common.review,
        body,
        source,
    )


def index_by_id(items: Iterable[_Identified]) -> dict[str, _Identified]:
    """Content by id, in id order; a repeated id is an error naming both files."""
    by_id: dict[str, _Identified] = {}
    for item in items:
        if item.id in by_id:
            raise ContentError(item.source, 1, f"id {item.id} is also used by {by_id[item.id].source}")
        by_id[item.id] = item
    return dict(sorted(by_id.items()))


def build_library(articles: Iterable[Article]) -> Library:
    """Index articles by id; a repeated id is an error."""
    return Library(index_by_id(articles))


def text_field(source: str, front: Mapping[str, Any], name: str) -> str:
    """A required non-empty text field of a content file's front matter."""
    value = front.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ContentError(source, 1, f"{name}: must be non-empty text")
    return value.strip()


def code_list(source: str, front: Mapping[str, Any], name: str, allowed: Sequence[str]) -> tuple[str, ...]:
    """A required list (or single value) of codes from ``allowed``."""
    value = front.get(name)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ContentError(source, 1, f"{name}: one or more of {', '.join(allowed)}")
    wrong = [v for v in value if v not in allowed]
    if wrong:
        raise ContentError(source, 1, f"{name}: unknown codes {', '.join(map(str, wrong))}")
    return tuple(value)


def parse_review(source: str, raw: Any) -> Review:
    """The ``review:`` block: status (draft or approved), reviewer and date."""
    if not isinstance(raw, Mapping) or raw.get("status") not in REVIEW_STATUSES:
        raise ContentError(source, 1, "review: needs status (draft or approved), reviewer and date")
    reviewer = raw.get("reviewer")
    when = raw.get("date")
    if not isinstance(reviewer, str) or not reviewer.strip():
        raise ContentError(source, 1, "review.reviewer: who reviewed it")
    if isinstance(when, str):
        try:
            when = date.fromisoformat(when)
        except ValueError:
            when = None
    if not isinstance(when, date):
        raise ContentError(source, 1, "review.date: a date such as 2026-12-01")
    return Review(str(raw["status"]), reviewer.strip(), when)


@dataclass(frozen=True, slots=True)
class Topic:
    """A topic code's button labels and search keywords."""

    code: str
    label: Mapping[str, str]
    keywords: tuple[str, ...]


def parse_topics(source: str, document: Any) -> dict[str, Topic]:
    """Validate ``content/articles/topics.yml``: every topic code once, with zh and en labels."""
    raw = document.get("topics") if isinstance(document, Mapping) else None
    if not isinstance(raw, Mapping):
        raise ContentError(source, 1, "expected `topics:` mapping each topic code to its labels and keywords")
    missing = [code for code in TOPICS if code not in raw]
    unknown = [code for code in raw if code not in TOPICS]
    if missing or unknown:
        raise ContentError(source, 1, f"topics: missing {missing or 'none'}, unknown {unknown or 'none'}")
    topics = {}
    for code in TOPICS:
        entry = raw[code]
        line = getattr(entry, "line", None)
        if not isinstance(entry, Mapping) or not all(isinstance(entry.get(lang), str) for lang in LANGS):
            raise ContentError(source, line, f"{code}: needs zh and en labels")
        keywords = entry.get("keywords", [])
        if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
            raise ContentError(source, line, f"{code}: keywords must be a list of words")
        topics[code] = Topic(code, {lang: entry[lang] for lang in LANGS}, tuple(keywords))
    return topics


WRITERS = ("parent", "teacher", "student")


def parse_writers(source: str, document: Any) -> dict[str, tuple[str, ...]]:
    """Validate the optional ``writers:`` of ``topics.yml``: for parent, teacher and student, the words that show
    who is writing (我家孩子, 我们班, 我妈) when the person has not said."""
    raw = document.get("writers", {}) if isinstance(document, Mapping) else {}
    if not isinstance(raw, Mapping):
        raise ContentError(source, getattr(raw, "line", None), "writers: expected a mapping of parent/teacher/student")
    unknown = [who for who in raw if who not in WRITERS]
    if unknown:
        raise ContentError(source, getattr(raw, "line", None), f"writers: unknown {unknown}; use {', '.join(WRITERS)}")
    cues = {}
    for who, words in raw.items():
        if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
            raise ContentError(source, getattr(words, "line", None), f"writers.{who}: must be a list of words")
        cues[str(who)] = tuple(words)
    return cues
