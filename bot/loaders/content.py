"""Reads counselor- and editor-owned files under ``content/`` into validated core objects."""

from __future__ import annotations

import functools
import importlib.util
import unicodedata
from collections.abc import Callable, Mapping
from pathlib import Path

import opencc

from bot.core.content_error import ContentError
from bot.core.hotlines import HotlineDirectory, parse_hotlines
from bot.core.library import LANGS as ARTICLE_LANGS
from bot.core.library import (
    Library,
    Topic,
    build_library,
    parse_article,
    parse_topics,
    parse_writers,
    split_front_matter,
)
from bot.core.referrals import ReferralDirectory, parse_outcomes, parse_referrals
from bot.core.retrieval import ArticleIndex
from bot.core.safety_replies import SafetyReplies, parse_safety_replies
from bot.core.tools import Toolbox, build_toolbox, parse_tool
from bot.core.triage.engine import TriageEngine
from bot.core.triage.lexicon import (
    build_lexicon,
    parse_everyday_roles,
    parse_lexicon_document,
    parse_rules_document,
)
from bot.core.triage.normalize import dialect_fold, normalize
from bot.loaders.yaml_source import load_yaml, parse_yaml, read_text

LEXICON_LANGS = ("zh", "en")


def simplified_converter() -> Callable[[str], str]:
    """OpenCC's Traditional → Simplified conversion (characters and common phrases)."""
    converter = opencc.OpenCC("t2s")
    convert: Callable[[str], str] = converter.convert
    return convert


def dialect_folder(risk_dir: Path, to_simplified: Callable[[str], str]) -> Callable[[str], str]:
    """Traditional → Simplified, then the written-dialect words of ``dialect.yml`` folded to Mandarin."""
    path = risk_dir / "dialect.yml"
    if not path.is_file():
        return to_simplified
    document = load_yaml(path)
    fold = document.get("fold") if isinstance(document, Mapping) else None
    if not isinstance(fold, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in fold.items()):
        raise ContentError(str(path), None, "dialect.yml needs a mapping 'fold' of word: Mandarin word")
    return dialect_fold(dict(fold), to_simplified)


def word_segmenter() -> Callable[[str], list[tuple[int, int]]]:
    """Where the words of a text are, by rjieba (jieba's dictionary in Rust, ~2 µs a message): asked only when a
    word-only cue needs to know whether it stands as a word. Its dictionary loads on first use (~130 ms), not
    at start: most messages never need it; the service warms it up once it is running."""
    tokenize: list[Callable[[str], list[tuple[str, int, int]]]] = []

    def segment(text: str) -> list[tuple[int, int]]:
        if not tokenize:
            import rjieba

            tokenize.append(rjieba.tokenize)
        return [(start, end) for _word, start, end in tokenize[0](text)]

    return segment


def pinyin_readings() -> Callable[[], Mapping[str, tuple[str, ...]]]:
    """Each Chinese character's toneless pinyin readings, from pypinyin's character table (read on first use,
    ~40 ms; the table file alone, without pypinyin's phrase dictionaries)."""
    table: list[dict[str, tuple[str, ...]]] = []

    def readings() -> Mapping[str, tuple[str, ...]]:
        if not table:
            spec = importlib.util.find_spec("pypinyin")
            if spec is None or spec.origin is None:
                raise ContentError("pypinyin", None, "pypinyin is not installed")
            path = Path(spec.origin).parent / "pinyin_dict.py"
            module_spec = importlib.util.spec_from_file_location("_xinqiao_pinyin_dict", path)
            if module_spec is None or module_spec.loader is None:
                raise ContentError(str(path), None, "pypinyin's character table is missing")
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
            table.append({chr(code): _toneless(found) for code, found in module.pinyin_dict.items()})
        return table[0]

    return readings


def _toneless(readings: str) -> tuple[str, ...]:
    found = []
    for reading in readings.split(","):
        decomposed = unicodedata.normalize("NFD", reading.replace("ü", "v"))
        plain = "".join(c for c in decomposed if not unicodedata.combining(c))
        if plain.isascii() and plain.isalpha() and plain not in found:
            found.append(plain)
    return tuple(found)


def load_triage(risk_dir: Path) -> TriageEngine:
    """Read and validate every lexicon file and the rules; errors name the file and line."""
    if not risk_dir.is_dir():
        raise ContentError(str(risk_dir), None, "risk lexicon folder not found")
    to_simplified = dialect_folder(risk_dir, simplified_converter())

    def fold(term: str) -> str:
        return normalize(term, to_simplified)

    entry_lists = []
    for lang in LEXICON_LANGS:
        for path in sorted((risk_dir / lang).glob("*.yml")):
            entries = parse_lexicon_document(str(path), load_yaml(path), fold)
            wrong = [entry for entry in entries if entry.lang != lang]
            if wrong:
                raise ContentError(str(path), wrong[0].line, f"file is under {lang}/ but says lang: {wrong[0].lang}")
            entry_lists.append(entries)
    if not entry_lists:
        raise ContentError(str(risk_dir), None, "no lexicon files (expected zh/*.yml and en/*.yml)")
    rules_path = risk_dir / "rules.yml"
    rules_document = load_yaml(rules_path)
    rules = parse_rules_document(str(rules_path), rules_document)
    everyday = parse_everyday_roles(str(rules_path), rules_document)
    return TriageEngine(
        build_lexicon(entry_lists, rules, everyday, str(rules_path)),
        to_simplified,
        segment=word_segmenter(),
        readings=pinyin_readings(),
    )


def load_hotlines(content_dir: Path) -> HotlineDirectory:
    """The hotline directory from ``content/hotlines.yml``."""
    path = content_dir / "hotlines.yml"
    return parse_hotlines(str(path), load_yaml(path))


def load_safety_replies(content_dir: Path) -> SafetyReplies:
    """The safety reply texts from ``content/safety/replies.yml``."""
    path = content_dir / "safety" / "replies.yml"
    return parse_safety_replies(str(path), load_yaml(path))


def load_library(content_dir: Path) -> Library:
    """Every article under ``content/articles/{zh,en}/*.md``, validated; errors name the file and field."""
    root = content_dir / "articles"
    articles = []
    for lang in ARTICLE_LANGS:
        for path in sorted((root / lang).glob("*.md")):
            front, body = split_front_matter(str(path), read_text(path))
            # Front matter starts on the file's second line (after the opening ---).
            document = parse_yaml(str(path), front, first_line=2)
            articles.append(parse_article(str(path), document, body, file_stem=path.stem, folder_lang=lang))
    return build_library(articles)


def load_toolbox(content_dir: Path) -> Toolbox:
    """Every guided exercise under ``content/tools/{zh,en}/*.yml``, validated; errors name the file and field."""
    root = content_dir / "tools"
    tools = []
    for lang in ARTICLE_LANGS:
        for path in sorted((root / lang).glob("*.yml")):
            tools.append(parse_tool(str(path), load_yaml(path), file_stem=path.stem, folder_lang=lang))
    return build_toolbox(tools)


def load_topics(content_dir: Path) -> dict[str, Topic]:
    """Topic labels and search keywords from ``content/articles/topics.yml``."""
    path = content_dir / "articles" / "topics.yml"
    return parse_topics(str(path), load_yaml(path))


def load_referrals(content_dir: Path) -> ReferralDirectory:
    """The referral directory (``content/referrals.yml``) and the case outcomes (``content/outcomes.yml``)."""
    services_path, outcomes_path = content_dir / "referrals.yml", content_dir / "outcomes.yml"
    services = parse_referrals(str(services_path), load_yaml(services_path))
    return ReferralDirectory(services, parse_outcomes(str(outcomes_path), load_yaml(outcomes_path)))


def load_writers(content_dir: Path) -> dict[str, tuple[str, ...]]:
    """The cues of who is writing (``writers:`` in ``content/articles/topics.yml``)."""
    path = content_dir / "articles" / "topics.yml"
    return parse_writers(str(path), load_yaml(path))


def fold_for_search(text: str, _convert: list[Callable[[str], str]] = []) -> str:  # noqa: B006 - a cache
    """Traditional → Simplified and case folding (the baseline's word overlap in ``bench/nlu_eval.py``)."""
    if not _convert:
        _convert.append(simplified_converter())
    return _convert[0](text).casefold()


@functools.cache
def search_folder(content_dir: Path) -> Callable[[str], str]:
    """How questions, articles and NLU examples are compared: Traditional → Simplified, the written-Cantonese words
    of ``risk/dialect.yml`` folded to Mandarin (瞓唔着 → 睡不着, as triage reads them), case folded."""
    to_mandarin = dialect_folder(content_dir / "risk", simplified_converter())

    def fold(text: str) -> str:
        return to_mandarin(text).casefold()

    return fold


def article_index(content_dir: Path, topics: Mapping[str, Topic] | None = None) -> ArticleIndex:
    """The library and its search index (with the topics' keywords, read here unless given)."""
    topics = load_topics(content_dir) if topics is None else topics
    keywords = {c: t.keywords for c, t in topics.items()}
    return ArticleIndex(load_library(content_dir), keywords, search_folder(content_dir), load_writers(content_dir))
