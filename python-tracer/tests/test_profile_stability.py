"""The profile's stability rule: rounds repeat until three agree, and a timing that never settles says so."""

from __future__ import annotations

import time

import pytest
import torch

from stowage_tracer.tracing import profile
from stowage_tracer.wire import ProfileOptions


def test_spread_is_infinite_until_three_rounds_then_relative_to_the_median():
    assert profile._spread([[1.0], [1.0]]) == float("inf")
    assert profile._spread([[9.0], [1.0], [1.0], [1.1]]) == pytest.approx(0.1 / 1.0)
    assert profile._spread([[2.0, 2.0], [2.1, 1.9], [2.0]]) == 0.0


class Alternating(torch.nn.Module):
    """A model whose speed changes every round, like a neighbour that comes and goes."""

    def __init__(self, per_round: int):
        super().__init__()
        self.calls = 0
        self.per_round = per_round

    def forward(self, x):
        slow = (self.calls // self.per_round) % 2 == 1
        self.calls += 1
        time.sleep(0.004 if slow else 0.001)
        return x


def test_a_timing_that_never_settles_runs_out_its_rounds_and_is_marked_unstable():
    options = ProfileOptions(warmup=0, iterations=5, max_rounds=6, max_seconds=30)
    row = profile._time_batch(Alternating(5), (torch.zeros(1),), "cpu", 1, options, lambda _: None)
    assert row["rounds"] == 6
    assert row["stable"] is False and row["spreadPct"] > 5


def test_the_time_bound_stops_rounds_before_three_agree():
    options = ProfileOptions(warmup=0, iterations=5, max_rounds=1000, max_seconds=0.05)
    row = profile._time_batch(Alternating(5), (torch.zeros(1),), "cpu", 1, options, lambda _: None)
    assert row["rounds"] < 1000 and row["stable"] is False


def test_a_sleeping_timer_gets_little_cpu_and_the_measurement_says_contended():
    options = ProfileOptions(warmup=0, iterations=5, max_rounds=3, max_seconds=30)
    row = profile._time_batch(Alternating(1000), (torch.zeros(1),), "cpu", 1, options, lambda _: None)
    # Sleeping is what a timing thread starved of CPU looks like from inside: wall time without CPU time.
    assert row["cpuShare"] < 0.5
    measurement = profile._measurement([row], load_average=0.0)
    assert measurement["contended"] is True and "of a core" in measurement["note"]
