"""Reads the Rasa-format ``dialogues/`` project into the embedded NLU model and the dialogue engine. Kept apart
from ``bot.loaders.content`` because training imports scikit-learn, which commands like ``triage`` do not need."""

from __future__ import annotations

from pathlib import Path

from bot.core.content_error import ContentError
from bot.core.dialogue import Dialogue, parse_domain
from bot.loaders.content import article_index, fold_for_search, load_topics
from bot.loaders.yaml_source import load_yaml
from bot.nlu.embedded import EmbeddedNlu
from bot.nlu.training_data import parse_training_data


def load_dialogue(content_dir: Path, dialogues_dir: Path) -> tuple[EmbeddedNlu, Dialogue]:
    """The embedded NLU (trained now from ``dialogues/data/nlu.yml``) and the dialogue engine over the domain,
    rules, labels and the article library. Errors name the file and line."""
    paths = {
        "domain": dialogues_dir / "domain.yml",
        "nlu": dialogues_dir / "data" / "nlu.yml",
        "rules": dialogues_dir / "data" / "rules.yml",
        "labels": dialogues_dir / "labels.yml",
    }
    for path in paths.values():
        if not path.is_file():
            raise ContentError(str(path), None, "dialogue file not found")
    documents = {name: (str(path), load_yaml(path)) for name, path in paths.items()}
    training = parse_training_data(*documents["nlu"])
    domain = parse_domain(documents["domain"], documents["rules"], documents["labels"])
    unknown = sorted(set(training.intents) - set(domain.intents))
    if unknown:
        raise ContentError(str(paths["nlu"]), None, f"intents not in the domain: {', '.join(unknown)}")
    without_rule = sorted(set(domain.intents) - set(domain.rules))
    if without_rule:
        raise ContentError(str(paths["rules"]), None, f"intents without a rule: {', '.join(without_rule)}")
    topics = load_topics(content_dir)
    return EmbeddedNlu(training, fold_for_search), Dialogue(domain, article_index(content_dir, topics), topics)
