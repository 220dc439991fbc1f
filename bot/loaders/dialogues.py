"""Reads the Rasa-format ``dialogues/`` project into the embedded NLU model and the dialogue engine. Kept apart
from ``bot.loaders.content`` because training imports scikit-learn, which commands like ``triage`` do not need."""

from __future__ import annotations

from pathlib import Path

from bot.core.content_error import ContentError
from bot.core.dialogue import TOOL_INTENTS, Dialogue, parse_domain
from bot.loaders.content import article_index, load_toolbox, load_topics, search_folder
from bot.loaders.yaml_source import load_yaml
from bot.nlu.embedded import EmbeddedNlu
from bot.nlu.training_data import parse_training_files


def load_dialogue(content_dir: Path, dialogues_dir: Path) -> tuple[EmbeddedNlu, Dialogue]:
    """The embedded NLU (trained now from ``dialogues/data/nlu*.yml``) and the dialogue engine over the domain,
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
    # nlu.yml first, then the other nlu*.yml files in name order, as Rasa reads every file of data/.
    extra = sorted(p for p in (dialogues_dir / "data").glob("nlu*.yml") if p != paths["nlu"])
    training = parse_training_files([documents["nlu"], *((str(p), load_yaml(p)) for p in extra)])
    domain = parse_domain(documents["domain"], documents["rules"], documents["labels"])
    unknown = sorted(set(training.intents) - set(domain.intents))
    if unknown:
        raise ContentError(str(paths["nlu"]), None, f"intents not in the domain: {', '.join(unknown)}")
    without_rule = sorted(set(domain.intents) - set(domain.rules))
    if without_rule:
        raise ContentError(str(paths["rules"]), None, f"intents without a rule: {', '.join(without_rule)}")
    topics = load_topics(content_dir)
    index = article_index(content_dir, topics)
    nlu = EmbeddedNlu(training, search_folder(content_dir), buttons=TOOL_INTENTS)
    return nlu, Dialogue(domain, index, topics, load_toolbox(content_dir))
