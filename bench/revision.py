"""Runs this interpreter inside an export of a git revision (its own code, content and dialogues), so that a bench
can measure the revision beside the working tree in the same run."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREE = "{tree}"  # in ``arguments``: replaced by the export's folder


def run_in_revision(revision: str, arguments: list[str], stdin: str = "") -> str:
    """Standard output of ``python ARGUMENTS`` run in an export of ``revision`` (stops the bench on failure)."""
    archive = subprocess.run(  # noqa: S603 - our own git and a revision named on our command line
        ["git", "-C", str(ROOT), "archive", revision, "bot", "content", "dialogues"],  # noqa: S607
        capture_output=True,
        check=True,
    ).stdout
    with tempfile.TemporaryDirectory() as folder:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(folder, filter="data")
        done = subprocess.run(  # noqa: S603 - this interpreter running a bench's own script
            [sys.executable, *(a.replace(TREE, folder) for a in arguments)],
            cwd=folder,
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        raise SystemExit(f"reference {revision} failed:\n{done.stderr[-3000:]}")
    return done.stdout
