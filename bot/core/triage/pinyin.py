"""Chinese written in pinyin (wo zai lou ding, buxianghuole): telling such a message from English, spacing its
syllables, and the pinyin spellings of the lexicon's Chinese cues, so that every Chinese cue also reads in pinyin.
The character → readings table is passed in (the loader reads it from pypinyin's dictionary)."""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace

from bot.core.triage.assessment import Level
from bot.core.triage.lexicon import CueEntry
from bot.core.triage.matcher import CueMatcher

# The syllables of Mandarin without tones (ü typed v or u). A fact of the language, not a lexicon: it only says
# whether a message could be pinyin, before the character table is ever loaded.
SYLLABLES: frozenset[str] = frozenset(
    """a ai an ang ao ba bai ban bang bao bei ben beng bi bian biao bie bin bing bo bu ca cai can cang cao ce cen
    ceng cha chai chan chang chao che chen cheng chi chong chou chu chua chuai chuan chuang chui chun chuo ci cong
    cou cu cuan cui cun cuo da dai dan dang dao de dei den deng di dia dian diao die ding diu dong dou du duan dui
    dun duo e ei en eng er fa fan fang fei fen feng fo fou fu ga gai gan gang gao ge gei gen geng gong gou gu gua
    guai guan guang gui gun guo ha hai han hang hao he hei hen heng hong hou hu hua huai huan huang hui hun huo ji
    jia jian jiang jiao jie jin jing jiong jiu ju juan jue jun ka kai kan kang kao ke kei ken keng kong kou ku kua
    kuai kuan kuang kui kun kuo la lai lan lang lao le lei leng li lia lian liang liao lie lin ling liu lo long lou
    lu luan lun luo lve lue lv ma mai man mang mao me mei men meng mi mian miao mie min ming miu mo mou mu na nai nan
    nang nao ne nei nen neng ni nian niang niao nie nin ning niu nong nou nu nuan nun nuo nve nue nv o ou pa pai pan
    pang pao pei pen peng pi pian piao pie pin ping po pou pu qi qia qian qiang qiao qie qin qing qiong qiu qu quan
    que qun ran rang rao re ren reng ri rong rou ru rua ruan rui run ruo sa sai san sang sao se sen seng sha shai
    shan shang shao she shei shen sheng shi shou shu shua shuai shuan shuang shui shun shuo si song sou su suan sui
    sun suo ta tai tan tang tao te teng ti tian tiao tie ting tong tou tu tuan tui tun tuo wa wai wan wang wei wen
    weng wo wu xi xia xian xiang xiao xie xin xing xiong xiu xu xuan xue xun ya yan yang yao ye yi yin ying yo yong
    you yu yuan yue yun za zai zan zang zao ze zei zen zeng zha zhai zhan zhang zhao zhe zhei zhen zheng zhi zhong
    zhou zhu zhua zhuai zhuan zhuang zhui zhun zhuo zi zong zou zu zuan zui zun zuo""".split()  # noqa: SIM905 - a list literal of 420 strings reads worse
)
_WORD = re.compile(r"[a-z]+")
# A message needs this many Latin words, and this share of them made of pinyin syllables, to be read as pinyin.
MIN_WORDS = 2
MIN_SHARE = 0.75
MIN_RUN = 3
# English words that happen to be pinyin syllables decide nothing either way.
_AMBIGUOUS = frozenset(
    {"a", "an", "he", "me", "die", "you", "long", "men", "ban", "pan", "sun", "gang", "hen", "ten", "man", "hang",
     "bin", "pin", "tie", "lie", "pie", "bang", "wan", "dig", "fan", "tan", "ran", "run", "gun", "shun", "she",
     "cheng", "chin", "china", "sure", "yo", "ya", "ye", "o", "e", "lo", "ma", "pa", "yes", "no"}
)  # fmt: skip
# A Chinese cue of one syllable is too ambiguous in pinyin (si, sha, ge), except the writer's own 我.
_ONE_SYLLABLE_ROLES = frozenset({"self"})
# A term with many characters of several readings is spelled this many ways at most.
_MAX_SPELLINGS = 8
_LONGEST = 6


@functools.lru_cache(maxsize=16384)
def _split(word: str) -> tuple[str, ...] | None:
    """The fewest pinyin syllables that make up ``word`` (jintian → jin tian), or None if it is not pinyin."""
    best: list[tuple[str, ...] | None] = [()] + [None] * len(word)
    for end in range(1, len(word) + 1):
        for size in range(min(_LONGEST, end), 0, -1):
            before = best[end - size]
            piece = word[end - size : end]
            current = best[end]
            if before is not None and piece in SYLLABLES and (current is None or len(before) + 1 < len(current)):
                best[end] = (*before, piece)
    return best[-1]


def looks_like_pinyin(text: str) -> bool:
    """True for a message written (mostly) in pinyin rather than in English."""
    if not text.isascii():
        return False
    words = [w for w in _WORD.findall(text) if w not in _AMBIGUOUS]
    if len(words) < MIN_WORDS:
        # One word is pinyin when it runs several syllables together (buxianghuole).
        syllables = _split(words[0]) if words else None
        return syllables is not None and len(syllables) >= MIN_RUN
    return sum(_split(w) is not None for w in words) >= MIN_SHARE * len(words)


def respace(text: str) -> str:
    """``text`` with every pinyin word cut into its syllables (wo buxiang huole → wo bu xiang huo le)."""

    def spaced(found: re.Match[str]) -> str:
        syllables = _split(found.group())
        return " ".join(syllables) if syllables else found.group()

    return _WORD.sub(spaced, text)


def _spellings(term: str, readings: Mapping[str, tuple[str, ...]]) -> list[str]:
    options = []
    for char in term:
        found = readings.get(char)
        if not found:
            return []
        options.append(found)
    return [" ".join(choice) for choice in itertools.islice(itertools.product(*options), _MAX_SPELLINGS)]


def pinyin_entries(entries: Iterable[CueEntry], readings: Mapping[str, tuple[str, ...]]) -> tuple[CueEntry, ...]:
    """The entries again for a pinyin message: Chinese terms spelled in spaced pinyin (楼顶 → lou ding), Latin terms
    cut into syllables as the message is; same ids and roles."""
    twins = []
    for entry in entries:
        terms: dict[str, None] = {}
        for term in entry.terms:
            if term.isascii():
                # A Latin term cut the way the message is (zisha → zi sha, suicide → sui ci de) still matches.
                if respace(term) != term:
                    terms[respace(term)] = None
            elif entry.lang == "zh" and (len(term) > 1 or entry.role in _ONE_SYLLABLE_ROLES):
                terms.update(dict.fromkeys(_spellings(term, readings)))
        if terms:
            twins.append(replace(entry, terms=tuple(terms), word=False))
    return _without_homophone_masks(twins)


def _without_homophone_masks(twins: list[CueEntry]) -> tuple[CueEntry, ...]:
    """Masks whose spelling holds a serious cue's are dropped from the pinyin reading: 紫砂 (a teapot clay) reads
    zi sha like 自杀, and a mask must never hide what it sounds like."""
    serious = CueMatcher(tuple(t for t in twins if t.role != "hyperbole" and t.level.rank >= Level.ORANGE.rank))
    kept = []
    for twin in twins:
        if twin.role != "hyperbole":
            kept.append(twin)
            continue
        terms = tuple(term for term in twin.terms if not serious.find(term, term, _everywhere))
        if terms:
            kept.append(replace(twin, terms=terms))
    return tuple(kept)


def _everywhere(_start: int, _end: int) -> bool:
    return True
