"""How many calls to place now: the production pacing of progressive and predictive dialling.

Pure: the caller passes the present (agents' states, calls in flight, lines free) and the
measured figures; nothing here reads a clock or a random generator. The engine service and
the simulator (``simulate.py``) run this same code.

**Progressive**: one call per free agent not already covered by a call in flight.

**Predictive** (more calls than free agents): a call placed now is answered, if at all,
about ``time_to_answer`` seconds from now (measured), and an answered call may wait
``abandon_wait_s`` for an agent (2 s: issue 15's rule, the US Telemarketing Sales Rule's
safe harbour, 16 CFR 310.4(b)(4)(iii): a call not connected to a person within 2 s of the
greeting is abandoned; (b)(4)(i) caps abandons at 3 % of answered calls per campaign). So over the horizon
``H = time_to_answer + abandon_wait_s``:

* answers ``X`` = the calls in flight, each answered with the chance measured for a call
  that has gone that long unanswered (of the last calls still unresolved at that age, the
  share answered after it: a call ringing for 25 s is less likely to be answered than one
  just dialled), plus Binomial(k, p) for ``k`` new calls, ``p`` the measured answer rate;
* agents ``Y`` = free agents − answered calls already waiting + Binomial(busy agents, q),
  where ``q = 1 − exp(−H / handle)``: the chance a busy agent finishes within the horizon
  with exponentially distributed handle times of the measured mean (memoryless, so the time
  an agent has already spent does not enter);
* expected abandons ``E[(X − Y)+]``.

The pacer places the largest ``k`` (up to the lines free) whose expected abandons stay within
``allowed_rate × E[X]``, and never fewer than progressive would. ``allowed_rate`` is the
campaign's maximum abandon rate scaled by a safety factor, lowered further when the rate
measured so far is above the target (the limit holds over the whole campaign: issue 15).
Until enough outcomes and handle times are measured (``MIN_OUTCOMES``, ``MIN_HANDLES``) it
dials progressively.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MIN_OUTCOMES = 20  # outcomes measured before the answer rate is trusted
MIN_HANDLES = 5  # handle times measured before predictive pacing starts
WINDOW = 200  # the answer rate and times are measured over the last WINDOW calls
SAFETY = 0.8  # plan for 80 % of the allowed abandon rate: the estimates are noisy
ABANDON_WAIT_S = 2.0  # 16 CFR 310.4(b)(4)(iii): no agent within 2 s of the answer = abandoned


@dataclass(frozen=True)
class PacingInput:
    """The present, as the dialler sees it."""

    free_agents: int  # ready for a call and not promised to one
    busy_agents: int  # talking or in wrap-up (will be free again)
    in_flight: int  # calls placed, not yet answered or failed
    waiting: int  # answered calls waiting for an agent (within their 2 s)
    lines_free: int  # lines the campaign may seize now
    answered: int  # answered calls (humans) so far in the campaign
    abandoned: int  # of which abandoned
    in_flight_ages: tuple[float, ...] = ()  # seconds since each call in flight was placed (predictive)


class Measurements:
    """Answer rate, time to answer and handle time over the last ``WINDOW`` calls."""

    def __init__(self, window: int = WINDOW) -> None:
        self.outcomes: deque[bool] = deque(maxlen=window)
        self.resolved: deque[tuple[bool, float]] = deque(maxlen=window)  # (answered, seconds to outcome)
        self.answer_times: deque[float] = deque(maxlen=window)
        self.handle_times: deque[float] = deque(maxlen=window)
        self._sorted: tuple[np.ndarray, np.ndarray] | None = None  # (seconds, answered from i on), cached

    def outcome(self, answered: bool, seconds_to_outcome: float) -> None:
        """A placed call ended its dialling: answered by a person, or not (busy, no answer, machine...)."""
        self.outcomes.append(answered)
        self.resolved.append((answered, seconds_to_outcome))
        self._sorted = None
        if answered:
            self.answer_times.append(max(0.0, seconds_to_outcome))

    def handled(self, seconds: float) -> None:
        """An agent finished a call (talk and wrap-up)."""
        self.handle_times.append(max(0.0, seconds))

    @property
    def ready(self) -> bool:
        return (len(self.outcomes) >= MIN_OUTCOMES and len(self.handle_times) >= MIN_HANDLES
                and len(self.answer_times) > 0)

    @property
    def answer_rate(self) -> float:
        return sum(self.outcomes) / len(self.outcomes) if self.outcomes else 0.0

    @property
    def time_to_answer(self) -> float:
        return sum(self.answer_times) / len(self.answer_times) if self.answer_times else 0.0

    def answer_chances_after(self, ages: Sequence[float]) -> np.ndarray:
        """For each age: of the measured calls still unresolved that many seconds after
        dialling, the share answered after it (0 where none was)."""
        if not self.resolved or not len(ages):
            return np.zeros(len(ages))
        if self._sorted is None:
            data = sorted(self.resolved, key=lambda item: item[1])
            answered = np.array([item[0] for item in data], dtype=float)
            self._sorted = (np.array([item[1] for item in data]),
                            np.concatenate((np.cumsum(answered[::-1])[::-1], [0.0])))
        seconds, answered_after = self._sorted
        first_later = np.searchsorted(seconds, np.asarray(ages, dtype=float), side="right")
        later = len(seconds) - first_later
        return np.where(later > 0, answered_after[first_later] / np.maximum(later, 1), 0.0)

    @property
    def handle_time(self) -> float:
        return sum(self.handle_times) / len(self.handle_times) if self.handle_times else 0.0


def progressive_calls(state: PacingInput) -> int:
    """One call per free agent not already covered by a call in flight or an answered call."""
    return max(0, min(state.lines_free, state.free_agents - state.in_flight - state.waiting))


def _binomial_pmf(n: int, p: float) -> np.ndarray:
    """P(X = x) for x = 0..n, X ~ Binomial(n, p)."""
    if n == 0:
        return np.ones(1)
    if p <= 0.0:
        out = np.zeros(n + 1)
        out[0] = 1.0
        return out
    if p >= 1.0:
        out = np.zeros(n + 1)
        out[n] = 1.0
        return out
    return np.array([math.comb(n, x) * p**x * (1.0 - p) ** (n - x) for x in range(n + 1)])


def allowed_rate(max_abandon: float, answered: int, abandoned: int) -> float:
    """The abandon rate to plan for now: a share of the limit, less when the campaign is over it."""
    target = SAFETY * max_abandon
    if answered >= 20 and abandoned / answered > 0.85 * max_abandon:
        return target * 0.25  # over the limit: nearly progressive until the rate comes back
    return target


def predictive_calls(state: PacingInput, measured: Measurements, max_abandon: float,
                     abandon_wait_s: float = ABANDON_WAIT_S) -> int:
    """Calls to place now (module docstring); progressive until the measurements are ready."""
    floor = progressive_calls(state)
    if not measured.ready or state.lines_free <= floor:
        return floor
    p = measured.answer_rate
    horizon = measured.time_to_answer + abandon_wait_s
    handle = measured.handle_time
    q = 1.0 - math.exp(-horizon / handle) if handle > 0 else 1.0
    # Agents available over the horizon: a fixed part (free minus already waiting calls) plus
    # the busy agents who finish in time; the fixed part may be negative.
    base = state.free_agents - state.waiting
    busy_pmf = _binomial_pmf(state.busy_agents, q)
    # calls in flight: a Poisson-binomial distribution of their answers
    flying = np.ones(1)
    ages = state.in_flight_ages if len(state.in_flight_ages) == state.in_flight else (0.0,) * state.in_flight
    for chance in measured.answer_chances_after(ages):
        flying = np.convolve(flying, (1.0 - chance, chance))
    flying_mean = float(np.arange(len(flying)) @ flying)
    most = state.in_flight + state.lines_free
    xs = np.arange(most + 1)
    ys = base + np.arange(len(busy_pmf))
    # shortfall[x] = E[(x - Y)+]: the abandons if x calls are answered
    shortfall = (np.maximum(xs[:, None] - ys[None, :], 0) * busy_pmf[None, :]).sum(axis=1)
    rate = allowed_rate(max_abandon, state.answered, state.abandoned)
    best = floor
    pmf = np.convolve(flying, _binomial_pmf(floor, p))  # then one Bernoulli(p) more per call
    for k in range(floor, state.lines_free + 1):
        if k > floor:
            pmf = np.convolve(pmf, (1.0 - p, p))
        expected_answers = flying_mean + k * p
        expected_abandons = float(pmf @ shortfall[: len(pmf)])
        if expected_abandons > rate * max(expected_answers, 1e-9):
            break
        best = k
    return best
