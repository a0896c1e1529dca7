"""Staffing: Erlang C (M/M/n, callers wait forever) and Erlang A (M/M/n+M, callers abandon).

Notation: arrival rate lambda (calls/s), mean handle time AHT = 1/mu, offered load
A = lambda x AHT (Erlangs), n agents, service-level threshold T seconds.

Erlang C (A. K. Erlang 1917; any queueing text, e.g. Gross & Harris):

* Erlang B by the stable recursion ``B(0) = 1``, ``B(k) = A B(k-1) / (k + A B(k-1))``
  (no factorials, no powers: good for thousands of agents);
* probability of waiting ``C = n B / (n - A (1 - B))`` for n > A (1 otherwise);
* service level ``P(W <= T) = 1 - C exp(-(n - A) T / AHT)``;
* ASA ``= C AHT / (n - A)`` (mean wait over all calls); occupancy ``= A / n``.

Erlang A (Palm 1943; Garnett, Mandelbaum & Reiman 2002), exponential patience with mean
1/theta: a birth-death chain with death rate ``min(j, n) mu + max(j - n, 0) theta``.
Stationary probabilities relative to ``pi_n``: the states below n sum to ``1/B(n, A)``;
``pi_(n+k) / pi_n = prod_(i=1..k) lambda / (n mu + i theta)`` (summed in log space,
truncated where terms fall below 1e-22 of the largest). By PASTA an arrival finds k
callers already queued with probability ``pi_(n+k)``. Such a caller is served with
probability ``n mu / (n mu + (k+1) theta)`` and, given service, waits a sum of
independent exponential stages with rates ``n mu + (i+1) theta``, i = k..0; its
distribution is computed by uniformization (all terms positive, so stable). Outputs:

* ``abandon_rate`` = P(abandon) (also = theta E[queue] / lambda, checked in the tests);
* ``service_level`` = P(answered within T) over *all* offered calls (abandons are misses);
* ``service_level_answered`` = the same over answered calls only;
* ``asa_seconds`` = mean wait of answered calls; ``mean_wait_seconds`` over all callers
  (abandoned ones up to their abandon);
* ``occupancy`` = lambda (1 - P(abandon)) AHT / n.

Staffing returns the fewest agents whose ``service_level`` reaches the target.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from firmware import FirmwareError

TAIL_LOG_CUTOFF = 50.0  # natural-log distance below the largest term where sums stop (~1e-22)


def erlang_b(agents: int, traffic_erlangs: float) -> float:
    """Blocking probability of ``agents`` servers offered ``traffic_erlangs`` (recursion)."""
    if agents < 0 or traffic_erlangs < 0:
        raise FirmwareError("erlang: agents and traffic must be >= 0")
    b = 1.0
    for k in range(1, agents + 1):
        ab = traffic_erlangs * b
        b = ab / (k + ab)
    return b


def erlang_c(agents: int, traffic_erlangs: float) -> float:
    """Probability that a call waits (1 when the queue is unstable, agents <= traffic)."""
    if agents <= traffic_erlangs:
        return 1.0
    b = erlang_b(agents, traffic_erlangs)
    return agents * b / (agents - traffic_erlangs * (1.0 - b))


@dataclass(frozen=True)
class ErlangCResult:
    agents: int
    traffic_erlangs: float
    wait_probability: float
    service_level: float
    asa_seconds: float
    occupancy: float

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


@dataclass(frozen=True)
class ErlangAResult:
    agents: int
    traffic_erlangs: float
    wait_probability: float
    abandon_rate: float
    service_level: float
    service_level_answered: float
    asa_seconds: float
    mean_wait_seconds: float
    occupancy: float

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def _check(calls_per_hour: float, aht_seconds: float, target_seconds: float) -> None:
    for name, value in (("calls per hour", calls_per_hour), ("AHT", aht_seconds)):
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise FirmwareError(f"erlang: {name} must be a positive number")
    if not math.isfinite(target_seconds) or target_seconds < 0:
        raise FirmwareError("erlang: target seconds must be >= 0")


def _check_target(target_sl: float) -> None:
    if not 0.0 < target_sl < 1.0:
        raise FirmwareError("erlang: target service level must be between 0 and 1 (exclusive)")


def erlang_c_metrics(agents: int, calls_per_hour: float, aht_seconds: float, target_seconds: float) -> ErlangCResult:
    """What ``agents`` achieve; an unstable queue (agents <= A) reports SL 0 and ASA infinity."""
    _check(calls_per_hour, aht_seconds, target_seconds)
    traffic = calls_per_hour * aht_seconds / 3600.0
    if agents < 1:
        raise FirmwareError("erlang: at least one agent")
    if agents <= traffic:
        return ErlangCResult(agents, traffic, 1.0, 0.0, math.inf, 1.0)
    c = erlang_c(agents, traffic)
    return _c_result(agents, traffic, c, aht_seconds, target_seconds)


def _c_result(agents: int, traffic: float, c: float, aht_seconds: float, target_seconds: float) -> ErlangCResult:
    service_level = 1.0 - c * math.exp(-(agents - traffic) * target_seconds / aht_seconds)
    asa = c * aht_seconds / (agents - traffic)
    return ErlangCResult(agents, traffic, c, service_level, asa, traffic / agents)


def erlang_c_staffing(calls_per_hour: float, aht_seconds: float, target_sl: float, target_seconds: float) -> ErlangCResult:
    """The fewest agents whose Erlang C service level is at least ``target_sl``."""
    _check(calls_per_hour, aht_seconds, target_seconds)
    _check_target(target_sl)
    traffic = calls_per_hour * aht_seconds / 3600.0
    limit = int(traffic + 50.0 * math.sqrt(traffic) + 1000)
    b = 1.0
    for agents in range(1, limit + 1):
        ab = traffic * b
        b = ab / (agents + ab)
        if agents <= traffic:
            continue
        c = agents * b / (agents - traffic * (1.0 - b))
        result = _c_result(agents, traffic, c, aht_seconds, target_seconds)
        if result.service_level >= target_sl:
            return result
    raise FirmwareError(f"erlang: no staffing up to {limit} agents meets the target")


def _poisson_weights(mean: float) -> np.ndarray:
    """Poisson probabilities 0..M covering all but ~1e-22 of the mass (log space)."""
    if mean == 0:
        return np.ones(1)
    top = int(mean + 12.0 * math.sqrt(mean) + 30)
    m = np.arange(top + 1, dtype=float)
    lgamma = np.array([math.lgamma(x + 1.0) for x in m])
    return np.exp(-mean + m * math.log(mean) - lgamma)


def erlang_a_metrics(
    agents: int, calls_per_hour: float, aht_seconds: float, patience_seconds: float, target_seconds: float
) -> ErlangAResult:
    """Erlang A figures for ``agents`` (see the module docstring for definitions)."""
    _check(calls_per_hour, aht_seconds, target_seconds)
    if not math.isfinite(patience_seconds) or patience_seconds <= 0:
        raise FirmwareError("erlang: patience must be a positive number of seconds")
    if agents < 1:
        raise FirmwareError("erlang: at least one agent")
    lam = calls_per_hour / 3600.0
    mu = 1.0 / aht_seconds
    theta = 1.0 / patience_seconds
    traffic = lam / mu
    n_mu = agents * mu
    # Queue-length terms r_k = pi_(n+k)/pi_n, k = 0..K, in log space.
    peak = max(0.0, (lam - n_mu) / theta)
    count = int(peak + 12.0 * math.sqrt(lam / theta) + 60)
    if count > 2_000_000:
        raise FirmwareError("erlang: load too large for Erlang A (patience x arrival rate)")
    i = np.arange(1, count + 1, dtype=float)
    log_r = np.concatenate(([0.0], np.cumsum(math.log(lam) - np.log(n_mu + i * theta))))
    keep = log_r >= log_r.max() - TAIL_LOG_CUTOFF
    last = int(np.nonzero(keep)[0][-1]) + 1
    log_r = log_r[:last]
    k = np.arange(last, dtype=float)
    log_s = float(np.logaddexp.reduce(log_r))  # log sum_k r_k (k >= 0)
    b = erlang_b(agents, traffic)
    # pi_n = 1 / (1/B - 1 + sum_k r_k): states 0..n-1 sum to (1/B - 1) pi_n.
    if b == 0.0:
        log_pi_n = -math.inf
    else:
        log_pi_n = -float(np.logaddexp(math.log1p(-b) - math.log(b), log_s)) if b < 1.0 else -log_s
    p_k = np.exp(log_pi_n + log_r)  # P(an arrival finds k queued, all agents busy)
    wait_probability = float(p_k.sum())
    served = n_mu / (n_mu + (k + 1.0) * theta)
    abandon_rate = float(np.sum(p_k * (1.0 - served)))
    # Waits of served callers: stages with rates n mu + (i+1) theta, i = k..0.
    rates = n_mu + (k + 1.0) * theta
    mean_stage = np.cumsum(1.0 / rates)  # E[W | served, k]
    answered = 1.0 - abandon_rate
    asa = float(np.sum(p_k * served * mean_stage)) / answered if answered > 0 else math.inf
    within = _hypoexponential_cdf(rates, target_seconds)
    service_level = (1.0 - wait_probability) + float(np.sum(p_k * served * within))
    mean_wait = float(np.sum(p_k * k)) / lam  # Little: E[queue] / lambda, over every caller
    return ErlangAResult(
        agents=agents,
        traffic_erlangs=traffic,
        wait_probability=wait_probability,
        abandon_rate=abandon_rate,
        service_level=service_level,
        service_level_answered=service_level / answered if answered > 0 else 0.0,
        asa_seconds=asa,
        mean_wait_seconds=mean_wait,
        occupancy=lam * answered / mu / agents,
    )


def _hypoexponential_cdf(rates: np.ndarray, t: float) -> np.ndarray:
    """P(E_0 + ... + E_k <= t) for every k, E_i ~ Exp(rates[i]), by uniformization."""
    if t <= 0:
        return np.zeros(len(rates))
    uniform = float(rates.max())
    step = rates / uniform  # probability that a uniformized jump is a real stage change
    weights = _poisson_weights(uniform * t)
    absorbed = np.zeros(len(rates))  # P(done within m jumps | start with stage k to go)
    cdf = np.zeros(len(rates))
    for weight in weights[1:]:
        previous = np.concatenate(([1.0], absorbed[:-1]))
        absorbed = step * previous + (1.0 - step) * absorbed
        cdf += weight * absorbed
    return cdf


def erlang_a_staffing(
    calls_per_hour: float, aht_seconds: float, patience_seconds: float, target_sl: float, target_seconds: float
) -> ErlangAResult:
    """The fewest agents whose Erlang A service level (over all offered calls) meets the target."""
    _check_target(target_sl)
    low, high = 0, 1
    result = erlang_a_metrics(high, calls_per_hour, aht_seconds, patience_seconds, target_seconds)
    traffic = result.traffic_erlangs
    limit = int(traffic + 50.0 * math.sqrt(traffic) + 1000)
    while result.service_level < target_sl:
        low, high = high, high * 2
        if high > 2 * limit:
            raise FirmwareError(f"erlang: no staffing up to {limit} agents meets the target")
        result = erlang_a_metrics(high, calls_per_hour, aht_seconds, patience_seconds, target_seconds)
    best = result
    while high - low > 1:
        middle = (low + high) // 2
        trial = erlang_a_metrics(middle, calls_per_hour, aht_seconds, patience_seconds, target_seconds)
        if trial.service_level >= target_sl:
            high, best = middle, trial
        else:
            low = middle
    return best
