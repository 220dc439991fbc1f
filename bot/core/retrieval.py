"""Ranking approved articles for a free question: Okapi BM25 over Chinese character unigrams and bigrams and
Latin words, with title, summary and topic keywords weighted above the body."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from bot.core.library import Article, Library

_HAN_RUN = re.compile(r"[\u3400-\u9fff]+")
_WORD = re.compile(r"[a-z0-9]+")
# Words that carry no topic in a question; everything else counts.
_STOP = frozenset((
    "的", "了", "吗", "呢", "吧", "啊", "我", "你", "他", "她", "它", "是", "在", "有", "和", "就", "都", "也", "要",
    "会", "能", "怎么", "怎么办", "什么", "如何", "可以", "应该", "一个", "这个", "那个",
    "the", "a", "an", "of", "to", "and", "or", "is", "are", "am", "be", "i", "my", "me", "you", "your", "it", "what",
    "how", "do", "does", "can", "should", "with", "for", "on", "in", "at", "about",
))  # fmt: skip
_LATIN = re.compile(r"[a-z0-9']+")
K1, B = 1.4, 0.75
AUDIENCE_PREFERENCE = 1.3  # an article for someone else must score this much better to rank first
# An article on what the conversation is about (a follow-up question that does not say it) counts as matching at
# least this much, and is preferred by this factor.
TOPIC_FLOOR, TOPIC_PREFERENCE = 10.0, 2.0
FIELD_WEIGHTS = {"title": 3, "summary": 2, "topics": 2, "body": 1}
# An article on a topic the question names (睡不着 names sleep) counts as matching at least this much and is
# preferred by this factor, more when it is the article's first topic: characters shared by chance (我妈 in a
# student's message and in a parents' article) must not outrank what the person said the worry is.
NAMED_FLOOR, NAMED_PREFERENCE, FIRST_TOPIC_PREFERENCE = 8.0, 1.8, 1.25
# Who writes (a parent about 我家孩子, a teacher about 我们班): the audience preferred when it is not known.
STUDENT = "student"


def latin_words(text: str) -> str:
    """Latin words of folded text with apostrophes dropped and a plural -s cut, space-padded, for phrase lookup:
    "i can't sleep, friends" → " i cant sleep friend "."""
    return " " + " ".join(_stem(word.replace("'", "")) for word in _LATIN.findall(text)) + " "


def _stem(word: str) -> str:
    # Only a plural -s: cutting -ed or -ing would make "scared" a "scar"; keywords list those forms themselves.
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def tokens(text: str) -> list[str]:
    """Character unigrams and bigrams of Chinese runs, and Latin words (a plural -s dropped), minus stop words."""
    found: list[str] = []
    for run in _HAN_RUN.findall(text):
        found.extend(ch for ch in run if ch not in _STOP)
        found.extend(run[i : i + 2] for i in range(len(run) - 1) if run[i : i + 2] not in _STOP)
    for word in _WORD.findall(text):
        if word in _STOP:
            continue
        found.append(word[:-1] if len(word) > 3 and word.endswith("s") else word)
    return found


@dataclass(frozen=True, slots=True)
class Hit:
    """An article and how well it answers the question."""

    article: Article
    score: float


class ArticleIndex:
    """BM25 index over the approved articles of a library."""

    def __init__(
        self,
        library: Library,
        topic_keywords: Mapping[str, Sequence[str]],
        fold: Callable[[str], str],
        writers: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self._fold = fold
        self.library = library
        self._keywords = {topic: _cues(words, fold) for topic, words in topic_keywords.items()}
        self._writers = {who: _cues(words, fold) for who, words in (writers or {}).items()}
        # One message asks for its named topics and writer several times on its way (intent, search, pick-up
        # line, exercise): the last question's answers are kept, not scanned for again.
        self._last: tuple[str, tuple[str, ...], str | None] | None = None
        self._articles = library.served
        self._docs: list[Counter[str]] = []
        for article in self._articles:
            keywords = " ".join(word for topic in article.topics for word in topic_keywords.get(topic, ()))
            weighted: Counter[str] = Counter()
            for name, text in (
                ("title", article.title),
                ("summary", article.summary),
                ("topics", keywords),
                ("body", article.body),
            ):
                for token in tokens(fold(text)):
                    weighted[token] += FIELD_WEIGHTS[name]
            self._docs.append(weighted)
        lengths = [sum(doc.values()) for doc in self._docs]
        average = sum(lengths) / len(lengths) if lengths else 1.0
        count = len(self._docs)
        # Inverted index of each token's BM25 term weight per document, computed once: a search then only
        # touches the documents that share a token with the question.
        self._postings: dict[str, list[tuple[int, float]]] = {}
        for index, doc in enumerate(self._docs):
            norm = K1 * (1 - B + B * lengths[index] / average)
            for token, tf in doc.items():
                self._postings.setdefault(token, []).append((index, tf * (K1 + 1) / (tf + norm)))
        self._idf = {t: math.log(1 + (count - len(p) + 0.5) / (len(p) + 0.5)) for t, p in self._postings.items()}

    def _bm25(self, query: Counter[str]) -> dict[int, float]:
        """Each document's BM25 score for the question's tokens, by document index."""
        scores: dict[int, float] = {}
        for token, repeats in query.items():
            postings = self._postings.get(token)
            if postings is None:
                continue
            weight = self._idf[token] * repeats
            for index, term in postings:
                scores[index] = scores.get(index, 0.0) + weight * term
        return scores

    def names_topic(self, question: str, topics: Sequence[str]) -> bool:
        """Whether ``question`` says one of the keywords of ``topics`` (压力, 睡不着, died): evidence that a search
        hit is about what was said, not a chance overlap of common characters."""
        named = self.named_topics(question)
        return any(topic in named for topic in topics)

    def named_topics(self, question: str, lang: str | None = None) -> tuple[str, ...]:
        """The topics whose keywords ``question`` says, the best evidenced first (the most keyword characters).
        ``lang`` is accepted for symmetry with search; keywords of both languages count (英语夹杂)."""
        del lang
        return self._read(question)[0]

    def writer(self, question: str) -> str | None:
        """Who seems to be writing (``parent``, ``teacher``, ``student``) from cues like 我家孩子 / 我们班 / 我妈;
        None when nothing or a tie says so."""
        return self._read(question)[1]

    def _read(self, question: str) -> tuple[tuple[str, ...], str | None]:
        if self._last is not None and self._last[0] == question:
            return self._last[1], self._last[2]
        folded = self._fold(question)
        evidence = _evidence(folded, self._keywords)
        named = tuple(sorted(evidence, key=lambda topic: (-evidence[topic], topic)))
        writers = _evidence(folded, self._writers)
        ranked = sorted(writers.values(), reverse=True)
        tied = not ranked or (len(ranked) > 1 and ranked[0] == ranked[1])
        writer = None if tied else max(writers, key=lambda who: writers[who])
        self._last = (question, named, writer)
        return named, writer

    def search(
        self,
        question: str,
        *,
        lang: str | None = None,
        audience: str | None = None,
        strict_audience: bool = True,
        limit: int = 5,
        topic: str | None = None,
    ) -> list[Hit]:
        """The best ``limit`` approved articles for ``question`` in ``lang``. With ``strict_audience`` only
        articles for ``audience``; otherwise theirs rank higher but others still answer (chat: a teacher asking
        how to teach life education is also served by a piece written for pupils). ``topic``: what the
        conversation is about (a parent's follow-up, 我该怎么跟她开口, after reporting marks on a daughter's arm)."""
        query = Counter(tokens(self._fold(question)))
        if not query:
            return []
        if audience is None:
            audience = self.writer(question)
        named = () if topic is not None else self.named_topics(question)
        scores = self._bm25(query)
        for index, article in enumerate(self._articles):
            # A topic the conversation or the question names lifts its articles above chance overlaps.
            if topic is not None and topic in article.topics:
                scores[index] = max(scores.get(index, 0.0), TOPIC_FLOOR)
            elif named and not set(named).isdisjoint(article.topics):
                scores[index] = max(scores.get(index, 0.0), NAMED_FLOOR)
        hits = []
        for index, raw in scores.items():
            article = self._articles[index]
            if lang is not None and article.lang != lang:
                continue
            score = raw * TOPIC_PREFERENCE if topic is not None and topic in article.topics else raw
            if named:
                score *= _named_preference(named, article.topics)
            for_them = _for(audience, article.audience)
            if strict_audience and not for_them:
                continue
            if score > 0:
                hits.append(Hit(article, score if for_them else score / AUDIENCE_PREFERENCE))
        hits.sort(key=lambda hit: (-hit.score, hit.article.id))
        return hits[:limit]


def _for(audience: str | None, audiences: Sequence[str]) -> bool:
    """Whether an article for ``audiences`` is written for ``audience`` (any pupil's when only "student" is known)."""
    if audience == STUDENT:
        return any(code.startswith(STUDENT) for code in audiences)
    return audience is None or audience in audiences


def _cues(words: Sequence[str], fold: Callable[[str], str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Chinese keywords (matched inside the text) and Latin ones (whole words, as ``latin_words`` pads them)."""
    folded = [fold(word).strip() for word in words if word.strip()]
    latin = tuple(latin_words(word) for word in folded if word.isascii())
    return tuple(word for word in folded if not word.isascii()), latin


def _evidence(folded: str, cues: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]]) -> dict[str, int]:
    """Characters of keywords found, per key: a longer keyword (睡不着觉, awake all night) is stronger evidence."""
    padded = latin_words(folded) if any(ch.isascii() and ch.isalpha() for ch in folded) else ""
    found: dict[str, int] = {}
    for key, (chinese, latin) in cues.items():
        weight = sum(len(word) for word in chinese if word in folded)
        if padded:
            weight += sum(len(word) - 2 for word in latin if word in padded)
        if weight:
            found[key] = weight
    return found


def _named_preference(named: Sequence[str], topics: Sequence[str]) -> float:
    """How much an article on the named topics is preferred: most for the best evidenced one as its first topic."""
    for rank, topic in enumerate(named[:2]):
        if topic in topics:
            factor = NAMED_PREFERENCE if rank == 0 else (1 + NAMED_PREFERENCE) / 2
            return factor * (FIRST_TOPIC_PREFERENCE if topics[0] == topic else 1.0)
    return 1.0
