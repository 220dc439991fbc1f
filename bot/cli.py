"""The ``xinqiao`` command: triage from the shell, the hotline directory, a lexicon check, and the interactive demo."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from bot import lexicon_commands
from bot.core.content_error import ContentError
from bot.core.library import AUDIENCES
from bot.core.safety_replies import format_hotlines
from bot.loaders.content import load_hotlines, load_safety_replies, load_triage
from bot.settings import LANGUAGES, Settings, SettingsError, is_region_code

EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xinqiao", description="心桥 Xinqiao: school mental-health chat service")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    triage = commands.add_parser("triage", help="assess one message per stdin line, print one JSON object per line")
    triage.add_argument("--explain", action="store_true", help="add the reasons behind each level")

    hotlines = commands.add_parser("hotlines", help="print the hotlines for a region")
    hotlines.add_argument("--region", help="GB/T 2260 code such as 450100, or CN (default: all regions)")
    hotlines.add_argument("--lang", choices=LANGUAGES, help="language of names and hours")

    demo = commands.add_parser("demo", help="interactive triage demo: type a message, see level, cues and reply")
    demo.add_argument("--lang", choices=LANGUAGES, help="reply language")
    demo.add_argument("--region", help="the person's region code, for local hotlines")
    ask = commands.add_parser("ask", help="rank approved articles for a free question (JSON, best first)")
    ask.add_argument("question")
    ask.add_argument("--lang", choices=LANGUAGES, help="only articles in this language")
    ask.add_argument("--audience", choices=AUDIENCES, help="only articles for this audience")

    content = commands.add_parser("content", help="content library")
    content_commands = content.add_subparsers(dest="content_command", required=True, metavar="ACTION")
    content_commands.add_parser("check", help="validate every content and dialogue file and list coverage")
    lexicon_commands.add_parser(commands)

    serve = commands.add_parser("serve", help="run the service: web chat, counselor API, watchdog (HOST/PORT)")
    serve.add_argument("--host", help="listen address (default: HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default: PORT or 8080)")

    db = commands.add_parser("db", help="database schema and keys")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="apply migrations up to the newest")
    db_commands.add_parser("rotate-keys", help="re-encrypt stored text under the first key of XINQIAO_DATA_KEYS")

    staff = commands.add_parser("staff", help="staff accounts")
    staff_commands = staff.add_subparsers(dest="staff_command", required=True, metavar="ACTION")
    add = staff_commands.add_parser("add", help="create an account and print its API token once")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=("counselor", "supervisor", "admin"))
    add.add_argument("--school", help="school id: sees that school's cases")
    add.add_argument("--district", help="6-digit district code: sees that district's escalated and red cases")
    add.add_argument(
        "--password-stdin", action="store_true", help="also set the console password from stdin's first line"
    )
    staff_commands.add_parser("list", help="every account: name, role, scope, active or disabled")
    disable = staff_commands.add_parser(
        "disable", help="disable an account: its token and console sessions stop working at once"
    )
    disable.add_argument("name")
    reset = staff_commands.add_parser("reset-token", help="give an account a new API token, printed once")
    reset.add_argument("name")
    password = staff_commands.add_parser(
        "set-password", help="set an account's console password from stdin's first line (its sessions end)"
    )
    password.add_argument("name")
    password.add_argument("--password-stdin", action="store_true", required=True, help="read it from stdin")
    totp = staff_commands.add_parser("totp", help="require a one-time code (TOTP) at sign-in; prints the secret once")
    totp.add_argument("name")
    totp.add_argument("--off", action="store_true", help="stop requiring the code")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``xinqiao`` console script."""
    args = _parser().parse_args(argv)
    try:
        return _run(Settings.from_env(), args)
    except (SettingsError, ContentError) as exc:
        print(f"xinqiao: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _run(settings: Settings, args: argparse.Namespace) -> int:
    if args.command in {"serve", "db", "staff"}:
        from bot import service_commands

        return service_commands.run(settings, args)
    if args.command == "lexicon":
        return lexicon_commands.run(settings, args)
    commands: dict[str, Callable[[], int]] = {
        "triage": lambda: _triage(settings, explain=args.explain),
        "hotlines": lambda: _hotlines(settings, region=args.region, lang=args.lang or settings.default_lang),
        "ask": lambda: _ask(settings, args.question, lang=args.lang, audience=args.audience),
        "content": lambda: _content_check(settings),
        "demo": lambda: _demo(
            settings, lang=args.lang or settings.default_lang, region=args.region or settings.default_region
        ),
    }
    return commands[args.command]()


def _triage(settings: Settings, *, explain: bool) -> int:
    engine = load_triage(settings.content_dir / "risk")
    out = sys.stdout
    for number, raw in enumerate(sys.stdin.buffer, start=1):
        try:
            text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            print(
                f"xinqiao triage: line {number} is not valid UTF-8 (byte {exc.start}); stopped",
                file=sys.stderr,
            )
            return EXIT_USAGE
        assessment = engine.assess(text.rstrip("\r\n"))
        out.write(json.dumps(assessment.as_contract(explain=explain), ensure_ascii=False) + "\n")
        # Flushed per line so a caller can talk to the command line by line through a pipe.
        out.flush()
    return 0


def _ask(settings: Settings, question: str, *, lang: str | None, audience: str | None) -> int:
    from bot.loaders.content import article_index

    if not question.strip():
        print("xinqiao ask: the question is empty", file=sys.stderr)
        return EXIT_USAGE
    hits = article_index(settings.content_dir).search(question, lang=lang, audience=audience, limit=5)
    results = [
        {
            "id": hit.article.id,
            "title": hit.article.title,
            "topics": list(hit.article.topics),
            "audience": list(hit.article.audience),
            "lang": hit.article.lang,
            "score": round(hit.score, 4),
        }
        for hit in hits
    ]
    print(json.dumps({"results": results}, ensure_ascii=False))
    return 0


def _content_check(settings: Settings) -> int:
    from bot.core.library import AUDIENCES as ALL_AUDIENCES
    from bot.core.library import TOPICS
    from bot.loaders.dialogues import load_dialogue

    load_triage(settings.content_dir / "risk")
    load_hotlines(settings.content_dir)
    load_safety_replies(settings.content_dir)
    _model, dialogue = load_dialogue(settings.content_dir, settings.dialogues_dir)
    library = dialogue.library
    drafts = len(library.articles) - len(library.served)
    coverage = library.coverage()
    counts = {lang: sum(1 for a in library.served if a.lang == lang) for lang in coverage}
    print(f"content is valid: {len(library.served)} approved articles ({counts['zh']} zh, {counts['en']} en), "
          f"{drafts} drafts not served")  # fmt: skip
    tools = dialogue.tools.offered
    tool_langs = {lang: sum(1 for t in tools if t.lang == lang) for lang in ("zh", "en")}
    print(f"{len(tools)} approved guided exercises ({tool_langs['zh']} zh, {tool_langs['en']} en)")
    print(f"{'code':<26}{'zh':>5}{'en':>5}")
    gaps = []
    for kind, codes in (("topic", TOPICS), ("audience", ALL_AUDIENCES)):
        for code in codes:
            zh, en = (coverage[lang].get(f"{kind}:{code}", 0) for lang in ("zh", "en"))
            print(f"{kind + ':' + code:<26}{zh:>5}{en:>5}")
            if zh == 0:
                gaps.append(f"{kind} {code} has no approved zh article")
    for gap in gaps:
        print(f"gap: {gap}")
    return 0


def _hotlines(settings: Settings, *, region: str | None, lang: str) -> int:
    directory = load_hotlines(settings.content_dir)
    if region is not None and not is_region_code(region):
        print(f"xinqiao hotlines: --region {region!r} is not CN or a 6-digit GB/T 2260 code", file=sys.stderr)
        return EXIT_USAGE
    regions = [region] if region else directory.regions()
    for code in regions:
        print(f"[{code}]")
        lines = directory.for_region(code, emergency=True)
        print(format_hotlines(lines, lang, for_people=False))
        for hotline in lines:
            print(f"    {hotline.answered_by[lang]}")
    return 0


def _demo(settings: Settings, *, lang: str, region: str, stdin: TextIO = sys.stdin) -> int:
    if not is_region_code(region):
        print(f"xinqiao demo: --region {region!r} is not CN or a 6-digit GB/T 2260 code", file=sys.stderr)
        return EXIT_USAGE
    engine = load_triage(settings.content_dir / "risk")
    directory = load_hotlines(settings.content_dir)
    replies = load_safety_replies(settings.content_dir)
    welcome = {
        "zh": "心桥分级演示：输入一句话，看看它的风险等级、线索和对方会收到的回复。Ctrl-D 退出。",
        "en": "Xinqiao triage demo: type a message to see its level, cues and the reply. Ctrl-D to quit.",
    }
    print(welcome[lang])
    history: list[str] = []
    while True:
        try:
            text = input("> " if stdin.isatty() else "")
        except EOFError:
            print()
            return 0
        if not text.strip():
            continue
        assessment = engine.assess(text, history=history)
        history.append(text)
        print(json.dumps(assessment.as_contract(explain=True), ensure_ascii=False, indent=2))
        reply = replies.compose(assessment, lang, directory, region)
        if reply:
            print("--- reply ---")
            print(reply)
        print()
