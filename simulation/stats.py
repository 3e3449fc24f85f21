"""From simulated days to the report's figures: per policy, per seed, and paired comparisons.

Every policy runs on the same seeds (the same fleet and calls), so a policy is compared
with another seed by seed: the fraction of mean time-to-doctor it saves on each seed,
then the mean of those fractions with a 95 % t-interval over the seeds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats as scipy_stats

from simulation.day import DayResult
from simulation.policies import Policy

FloatArray = npt.NDArray[np.float64]

BASELINE = Policy.GREEDY
REFERENCE = Policy.ROAD  # plain road-ETA greedy: what batching and queue rules must not lose to


def _pct(values: FloatArray, q: float) -> float:
    return float(np.percentile(values, q)) if values.size else math.nan


def _mean(values: FloatArray) -> float:
    return float(values.mean()) if values.size else math.nan


@dataclass(frozen=True, slots=True)
class DayStats:
    """One policy on one seed."""

    policy: str
    seed: int
    calls: int
    served: int
    mean_time_to_doctor_s: float
    p50_time_to_doctor_s: float
    p90_time_to_doctor_s: float
    mean_drive_s: float
    mean_queue_wait_s: float
    queued_share: float  # calls that waited for a doctor at all (more than a second)
    offers_per_booking: float
    no_doctor_rate: float
    utilisation: float
    dispatch_p50_us: float
    dispatch_p99_us: float
    dispatch_cpu_p99_us: float
    preemptions: int

    @classmethod
    def of(cls, day: DayResult) -> DayStats:
        ttd = day.time_to_doctor_s
        queue = day.queue_wait_s
        return cls(
            policy=day.policy,
            seed=day.seed,
            calls=day.calls,
            served=int(day.served.sum()),
            mean_time_to_doctor_s=_mean(ttd),
            p50_time_to_doctor_s=_pct(ttd, 50),
            p90_time_to_doctor_s=_pct(ttd, 90),
            mean_drive_s=_mean(day.drive_s),
            mean_queue_wait_s=_mean(queue),
            queued_share=float((queue > 1.0).mean()) if queue.size else math.nan,
            offers_per_booking=day.offers_per_booking,
            no_doctor_rate=day.no_doctor_rate,
            utilisation=day.utilisation,
            dispatch_p50_us=_pct(day.latency_us, 50),
            dispatch_p99_us=_pct(day.latency_us, 99),
            dispatch_cpu_p99_us=_pct(day.latency_cpu_us, 99),
            preemptions=int(day.preempted[day.measured].sum()),
        )


@dataclass(frozen=True, slots=True)
class Spread:
    """A figure over seeds: mean, standard deviation, lowest and highest."""

    mean: float
    sd: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Spread:
        a = np.array([v for v in values if not math.isnan(v)], dtype=np.float64)
        if a.size == 0:
            return cls(math.nan, math.nan, math.nan, math.nan)
        sd = float(a.std(ddof=1)) if a.size > 1 else 0.0
        return cls(float(a.mean()), sd, float(a.min()), float(a.max()))


@dataclass(frozen=True, slots=True)
class Paired:
    """Per-seed fractions saved by a policy against another, summarised."""

    fractions: tuple[float, ...]
    mean: float
    ci95_low: float
    ci95_high: float

    @classmethod
    def of(cls, fractions: Sequence[float]) -> Paired:
        a = np.asarray(fractions, dtype=np.float64)
        if a.size == 0:
            return cls((), math.nan, math.nan, math.nan)
        mean = float(a.mean())
        if a.size < 2:
            return cls(tuple(a.tolist()), mean, math.nan, math.nan)
        half = (
            float(scipy_stats.t.ppf(0.975, a.size - 1)) * float(a.std(ddof=1)) / math.sqrt(a.size)
        )
        return cls(tuple(a.tolist()), mean, mean - half, mean + half)


def saved(policy: Sequence[float], against: Sequence[float]) -> Paired:
    """Fraction of `against`'s figure that `policy` saves, seed by seed (positive: better)."""
    return Paired.of([1.0 - p / a for p, a in zip(policy, against, strict=True) if a > 0])


@dataclass(frozen=True, slots=True)
class PolicySummary:
    policy: str
    days: tuple[DayStats, ...]
    calls: int  # measured calls over every seed
    served: int
    mean_time_to_doctor_s: float  # over every served call of every seed
    p90_time_to_doctor_s: float
    no_doctor_rate: float
    dispatch_p50_us: float  # over every decision of every seed
    dispatch_p99_us: float
    dispatch_cpu_p99_us: float
    time_to_doctor_s: FloatArray  # every served call, for the plots
    latency_us: FloatArray
    latency_cpu_us: FloatArray

    def spread(self, field: str) -> Spread:
        return Spread.of(float(getattr(d, field)) for d in self.days)


def summarise_policy(days: Sequence[DayResult]) -> PolicySummary:
    if not days:
        raise ValueError("no days to summarise")
    ordered = sorted(days, key=lambda d: d.seed)
    ttd = np.concatenate([d.time_to_doctor_s for d in ordered])
    latency = np.concatenate([d.latency_us for d in ordered])
    cpu = np.concatenate([d.latency_cpu_us for d in ordered])
    calls = sum(d.calls for d in ordered)
    served = sum(int(d.served.sum()) for d in ordered)
    return PolicySummary(
        policy=ordered[0].policy,
        days=tuple(DayStats.of(d) for d in ordered),
        calls=calls,
        served=served,
        mean_time_to_doctor_s=_mean(ttd),
        p90_time_to_doctor_s=_pct(ttd, 90),
        no_doctor_rate=(calls - served) / calls if calls else math.nan,
        dispatch_p50_us=_pct(latency, 50),
        dispatch_p99_us=_pct(latency, 99),
        dispatch_cpu_p99_us=_pct(cpu, 99),
        time_to_doctor_s=ttd,
        latency_us=latency,
        latency_cpu_us=cpu,
    )


@dataclass(frozen=True, slots=True)
class Comparison:
    """The chosen policy against the straight-line baseline (and plain road-ETA greedy)."""

    policy: str
    seeds: tuple[int, ...]
    summaries: dict[str, PolicySummary]
    vs_baseline: dict[str, Paired]  # policy -> mean time-to-doctor saved against greedy
    vs_baseline_p90: dict[str, Paired]
    vs_reference: dict[str, Paired]  # policy -> saved against road-ETA greedy

    @property
    def chosen(self) -> PolicySummary:
        return self.summaries[self.policy]

    @property
    def baseline(self) -> PolicySummary:
        return self.summaries[BASELINE.value]

    def headline(self) -> dict[str, Any]:
        """The JSON line's figures (JSON-ready: NaN becomes None)."""
        chosen, base = self.chosen, self.baseline
        out: dict[str, Any] = {
            "policy": self.policy,
            "seeds": len(self.seeds),
            "calls": chosen.calls,
            "mean_time_to_doctor_s": chosen.mean_time_to_doctor_s,
            "p90_time_to_doctor_s": chosen.p90_time_to_doctor_s,
            "greedy_mean_time_to_doctor_s": base.mean_time_to_doctor_s,
            "greedy_p90_time_to_doctor_s": base.p90_time_to_doctor_s,
            "improvement_vs_greedy": self.vs_baseline[self.policy].mean,
            "improvement_ci95_low": self.vs_baseline[self.policy].ci95_low,
            "improvement_ci95_high": self.vs_baseline[self.policy].ci95_high,
            "p90_improvement_vs_greedy": self.vs_baseline_p90[self.policy].mean,
            "p90_improvement_ci95_low": self.vs_baseline_p90[self.policy].ci95_low,
            "dispatch_p50_us": chosen.dispatch_p50_us,
            "dispatch_p99_us": chosen.dispatch_p99_us,
            "dispatch_cpu_p99_us": chosen.dispatch_cpu_p99_us,
            "no_doctor_rate": chosen.no_doctor_rate,
            "greedy_no_doctor_rate": base.no_doctor_rate,
            "utilisation": chosen.spread("utilisation").mean,
            "offers_per_booking": chosen.spread("offers_per_booking").mean,
            "queued_share": chosen.spread("queued_share").mean,
        }
        road = self.vs_reference.get(self.policy)
        if road is not None and self.policy != REFERENCE.value:
            # Cost against plain road-ETA greedy: positive when the policy is slower.
            out["road_mean_time_to_doctor_s"] = self.summaries[
                REFERENCE.value
            ].mean_time_to_doctor_s
            out["cost_vs_road"] = 0.0 - road.mean
            out["cost_vs_road_ci95_high"] = 0.0 - road.ci95_low
        for name, paired in self.vs_baseline.items():
            if name != BASELINE.value:
                out[f"improvement_vs_greedy_{name}"] = paired.mean
        return {k: _json_value(v) for k, v in out.items()}


def compare(results: Sequence[DayResult], policy: Policy | str) -> Comparison:
    """Summarise every policy run and pair each with the baseline on the same seeds."""
    chosen = Policy(policy).value
    by_policy: dict[str, list[DayResult]] = {}
    for day in results:
        by_policy.setdefault(day.policy, []).append(day)
    for needed in (chosen, BASELINE.value):
        if needed not in by_policy:
            raise ValueError(f"no days of policy {needed!r} to compare")
    seed_sets = {name: sorted(d.seed for d in days) for name, days in by_policy.items()}
    seeds = seed_sets[chosen]
    for name, s in seed_sets.items():
        if s != seeds:
            raise ValueError(f"policy {name!r} ran on seeds {s}, not the same as {seeds}")
    order: list[str] = [str(p.value) for p in Policy if p.value in by_policy]
    summaries = {name: summarise_policy(by_policy[name]) for name in order}

    def per_seed(name: str, field: str) -> list[float]:
        return [float(getattr(d, field)) for d in summaries[name].days]

    base_mean = per_seed(BASELINE.value, "mean_time_to_doctor_s")
    base_p90 = per_seed(BASELINE.value, "p90_time_to_doctor_s")
    vs_baseline = {n: saved(per_seed(n, "mean_time_to_doctor_s"), base_mean) for n in order}
    vs_p90 = {n: saved(per_seed(n, "p90_time_to_doctor_s"), base_p90) for n in order}
    vs_reference: dict[str, Paired] = {}
    if REFERENCE.value in summaries:
        ref = per_seed(REFERENCE.value, "mean_time_to_doctor_s")
        vs_reference = {n: saved(per_seed(n, "mean_time_to_doctor_s"), ref) for n in order}
    return Comparison(chosen, tuple(seeds), summaries, vs_baseline, vs_p90, vs_reference)


def _json_value(v: Any) -> Any:
    if isinstance(v, float | np.floating):
        f = float(v)
        return round(f, 6) if math.isfinite(f) else None
    if isinstance(v, np.integer):
        return int(v)
    return v


# -- the table -----------------------------------------------------------------------------------

ROWS: tuple[tuple[str, str, float, str], ...] = (
    # (label, DayStats field, scale, format): mean ± sd over seeds
    ("calls measured per day", "calls", 1.0, "{:.0f}"),
    ("time to doctor, mean (min)", "mean_time_to_doctor_s", 1 / 60, "{:.2f}"),
    ("time to doctor, p90 (min)", "p90_time_to_doctor_s", 1 / 60, "{:.2f}"),
    ("drive time, mean (min)", "mean_drive_s", 1 / 60, "{:.2f}"),
    ("queue wait, mean (min)", "mean_queue_wait_s", 1 / 60, "{:.2f}"),
    ("calls that queued (%)", "queued_share", 100.0, "{:.1f}"),
    ("offers per booking", "offers_per_booking", 1.0, "{:.2f}"),
    ("no-doctor rate (%)", "no_doctor_rate", 100.0, "{:.2f}"),
    ("doctor utilisation (%)", "utilisation", 100.0, "{:.1f}"),
    ("preemptions per day", "preemptions", 1.0, "{:.1f}"),
)

POOLED_ROWS: tuple[tuple[str, str], ...] = (
    # (label, PolicySummary field): a percentile of every decision of every seed, pooled, as
    # the headline gives it (a mean of per-seed p99s would be another, smaller figure)
    ("dispatch latency p50, all decisions (µs)", "dispatch_p50_us"),
    ("dispatch latency p99, all decisions (µs)", "dispatch_p99_us"),
    ("dispatch CPU time p99, all decisions (µs)", "dispatch_cpu_p99_us"),
)


def table_rows(comparison: Comparison) -> tuple[list[str], list[list[str]]]:
    """Header and rows: each cell 'mean ± sd' over seeds, except the dispatch latencies
    (percentiles over every decision, pooled); the last rows are the pairings."""
    names = list(comparison.summaries)
    header = ["metric (mean ± sd over seeds)", *names]
    rows: list[list[str]] = []
    for label, field, scale, fmt in ROWS:
        row = [label]
        for name in names:
            s = comparison.summaries[name].spread(field)
            if math.isnan(s.mean):
                row.append("-")
            else:
                row.append(f"{fmt.format(s.mean * scale)} ± {fmt.format(s.sd * scale)}")
        rows.append(row)
    for i, (label, field) in enumerate(POOLED_ROWS):  # after the calls, as before
        row = [label]
        for name in names:
            value = float(getattr(comparison.summaries[name], field))
            row.append("-" if math.isnan(value) else f"{value:.0f}")
        rows.insert(1 + i, row)

    def paired_row(label: str, pairs: dict[str, Paired], against: Policy) -> list[str]:
        row = [label]
        for name in names:
            p = pairs.get(name)
            if p is None or name == against.value:
                row.append("-")
            elif math.isnan(p.ci95_low):
                row.append(f"{100 * p.mean:+.1f}")
            else:
                row.append(
                    f"{100 * p.mean:+.1f} [{100 * p.ci95_low:+.1f}, {100 * p.ci95_high:+.1f}]"
                )
        return row

    rows.append(
        paired_row("saved vs greedy, mean TTD (%, 95% CI)", comparison.vs_baseline, BASELINE)
    )
    rows.append(
        paired_row("saved vs greedy, p90 TTD (%, 95% CI)", comparison.vs_baseline_p90, BASELINE)
    )
    if comparison.vs_reference:
        rows.append(
            paired_row(
                "saved vs road greedy, mean TTD (%, 95% CI)", comparison.vs_reference, REFERENCE
            )
        )
    return header, rows


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
