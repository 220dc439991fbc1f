"""The NLU is trained on ordinary language only: triage runs first and answers anything risky itself."""

from __future__ import annotations

from pathlib import Path

from bot.core.triage import Level
from bot.loaders.yaml_source import load_yaml
from bot.nlu.training_data import parse_training_files

DATA = Path(__file__).resolve().parents[2] / "dialogues" / "data"


def test_no_training_example_is_a_risk_message(engine):
    files = sorted(DATA.glob("nlu*.yml"))
    training = parse_training_files([(str(path), load_yaml(path)) for path in files])
    raised = [e.text for e in training.examples if engine.assess(e.text).level.rank >= Level.ORANGE.rank]
    assert raised == [], f"training examples triaged orange or red: {raised[:10]}"
