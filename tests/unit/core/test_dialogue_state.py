"""The conversation's state survives the store: every field round-trips, and older stored shapes still read."""

from __future__ import annotations

from bot.core.dialogue import DialogueState


def test_every_field_round_trips_through_json() -> None:
    state = DialogueState(
        form="safety_plan_form", answers=(("a", "b"),), article="zh-x", part=2, awaiting_share=True,
        screening_asked=("thoughts",), screening_pending="method", expecting="tool:zh-t-x", misses=1,
        tool="zh-t-x", tool_step=3, reporter="parent", topic="self_harm", crisis_since="2026-12-01T02:00:00+00:00",
    )  # fmt: skip
    assert DialogueState.from_json(state.as_json()) == state
    assert DialogueState.from_json(state.as_json()).crisis


def test_a_state_stored_before_the_crisis_start_was_kept_is_still_in_crisis() -> None:
    assert DialogueState.from_json({"crisis": True}).crisis
    assert not DialogueState.from_json({"crisis": False}).crisis
    assert not DialogueState.from_json({}).crisis
