"""``xinqiao lexicon test``: what a lexicon edit does, before it goes live. Scores the labelled sets with the
lexicon as edited, and lists the messages whose level changed against the last committed lexicon (or a REF)."""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.core.content_error import ContentError
from bot.core.triage.assessment import Level
from bot.core.triage.engine import TriageEngine
from bot.core.triage.scoring import Confusion, LabelledMessage
from bot.loaders.content import load_triage
from bot.loaders.labelled_sets import load_labelled
from bot.settings import Settings

# The sets counselors check an edit against. The held-out set is never among them: it is scored once, at the end
# of a piece of work, so that its figure stays honest.
DEFAULT_SETS = (
    "tests/data/triage_labelled.yml",
    "tests/data/triage_development_v2.yml",
    "tests/data/triage_development_v3.yml",
)
EXIT_NEWLY_MISSED = 1
EXIT_USAGE = 2


@dataclass(frozen=True, slots=True)
class Change:
    """A message whose level differs between the reference lexicon and the edited one."""

    message: LabelledMessage
    before: Level
    after: Level

    @property
    def better(self) -> bool:
        """Whether the edit moved the message towards its label."""
        return abs(self.after.rank - self.message.level.rank) < abs(self.before.rank - self.message.level.rank)

    @property
    def newly_missed(self) -> bool:
        """A serious message (labelled orange or red) that the reference caught at orange and the edit does not."""
        serious = self.message.level.rank >= Level.ORANGE.rank
        return serious and self.before.rank >= Level.ORANGE.rank > self.after.rank


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``lexicon`` command and its ``test`` action."""
    lexicon = commands.add_parser("lexicon", help="risk lexicon: check an edit before it goes live")
    actions = lexicon.add_subparsers(dest="lexicon_command", required=True, metavar="ACTION")
    test = actions.add_parser(
        "test",
        help="score the labelled sets with the lexicon as edited; list messages whose level changed",
        description="Scores labelled sets with the lexicon as edited and prints the confusion matrix, then the "
        "messages whose level changed against the last committed lexicon (or --against REF). Exits 1 when a "
        "message labelled orange or red falls below orange that the reference caught.",
    )
    test.add_argument(
        "--against", default="HEAD", metavar="REF", help="a git revision or a lexicon folder (default: HEAD)"
    )
    test.add_argument(
        "--set",
        dest="sets",
        action="append",
        type=Path,
        metavar="FILE",
        help=f"a labelled set (repeatable; default: {', '.join(DEFAULT_SETS)})",
    )


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Run ``xinqiao lexicon test``."""
    risk_dir = settings.content_dir / "risk"
    sets = args.sets or [settings.content_dir.resolve().parent / name for name in DEFAULT_SETS]
    edited = load_triage(risk_dir)
    labelled = [(path, load_labelled(path)) for path in sets]
    with tempfile.TemporaryDirectory(prefix="xinqiao-lexicon-") as scratch:
        reference = _reference(risk_dir, args.against, Path(scratch))
    print(f"lexicon: {risk_dir} as edited; compared with: {args.against}")
    missed = 0
    for path, messages in labelled:
        missed += _report(path, messages, edited, reference, args.against)
    if missed:
        print(f"\ncheck failed: {missed} serious message(s) now below orange that {args.against} caught")
        return EXIT_NEWLY_MISSED
    return 0


def _report(
    path: Path, messages: Sequence[LabelledMessage], edited: TriageEngine, reference: TriageEngine, ref: str
) -> int:
    now = [_level(edited, m) for m in messages]
    before = [_level(reference, m) for m in messages]
    ours, theirs = (
        Confusion.of(zip((m.level for m in messages), now, strict=True)),
        Confusion.of(zip((m.level for m in messages), before, strict=True)),
    )
    print(f"\n== {path} ({len(messages)} messages) ==")
    print("\n".join(ours.table()))
    for line, was in zip(ours.figures(), theirs.figures(), strict=True):
        print(f"{line}   ({ref}: {was.split(': ', 1)[1]})")
    changes = [Change(m, b, a) for m, b, a in zip(messages, before, now, strict=True) if a is not b]
    better = sum(c.better for c in changes)
    print(f"changed against {ref}: {len(changes)} ({better} closer to the label, {len(changes) - better} further)")
    for change in changes:
        mark = "better" if change.better else "WORSE "
        where = f"line {change.message.line}" if change.message.line else ""
        print(
            f"  {mark} {where:>10}  labelled {change.message.level.value:<6} "
            f"{change.before.value:>6} → {change.after.value:<6} {change.message.text}"
        )
    return sum(c.newly_missed for c in changes)


def _level(engine: TriageEngine, message: LabelledMessage) -> Level:
    return engine.assess(message.text, history=message.history, asked=message.asked).level


def _reference(risk_dir: Path, ref: str, scratch: Path) -> TriageEngine:
    """The lexicon to compare with: a folder as it is, or the risk folder as committed at git revision ``ref``."""
    folder = Path(ref)
    if folder.is_dir():
        return load_triage(folder)
    top = _git(risk_dir, "rev-parse", "--show-toplevel").strip()
    inside = risk_dir.resolve().relative_to(Path(top).resolve()).as_posix()
    names = _git(risk_dir, "ls-tree", "--full-tree", "-r", "--name-only", ref, "--", inside).splitlines()
    if not names:
        raise ContentError(ref, None, f"no lexicon at {inside} in that revision")
    for name in names:
        target = scratch / Path(name).relative_to(inside)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_git_bytes(risk_dir, "show", f"{ref}:{name}"))
    return load_triage(scratch)


def _git(where: Path, *args: str) -> str:
    return _git_bytes(where, *args).decode("utf-8")


def _git_bytes(where: Path, *args: str) -> bytes:
    try:
        command = ["git", "-C", str(where), *args]
        done = subprocess.run(command, capture_output=True, check=False, timeout=60)  # noqa: S603 - our own arguments
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ContentError("git", None, f"cannot run git to read the reference lexicon: {error}") from error
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ContentError(args[-1], None, f"git {args[0]} failed: {detail[-1] if detail else done.returncode}")
    return done.stdout
