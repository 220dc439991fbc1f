"""The figures read from a confusion matrix of labelled against assessed levels."""

from __future__ import annotations

import math

from bot.core.triage import Level
from bot.core.triage.scoring import Confusion

N, Y, OR, R = Level.NONE, Level.YELLOW, Level.ORANGE, Level.RED


def test_figures_of_a_small_matrix():
    matrix = Confusion.of([(R, R), (R, OR), (R, N), (OR, OR), (OR, Y), (Y, Y), (N, N), (N, OR), (N, N), (N, Y)])
    assert matrix.red_exact == 1 / 3
    assert matrix.red_below_orange == 1
    assert matrix.recall(OR) == 1 / 2  # of the two orange messages one is caught
    assert matrix.recall(R) == 1 / 3
    assert matrix.benign_alarms == 1 / 4
    assert matrix.exact == 5 / 10
    assert matrix.table()[0].split()[:2] == ["labelled/got", "none"]
    assert matrix.table()[4].split() == ["red", "1", "0", "1", "1", "3"]


def test_an_empty_level_has_no_recall():
    matrix = Confusion.of([(N, N)])
    assert math.isnan(matrix.recall(R))
    assert math.isnan(matrix.red_exact)
    assert matrix.benign_alarms == 0.0
