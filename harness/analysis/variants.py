"""Per-variant SLIs: every request SLI of harness.analysis.slis, over the requests one variant answered.

    variant_names(samples) -> tuple[str, ...]
    variant_slis(samples, phases, request) -> dict[variant, VariantSlis]
    judge_variant(slo, variants) -> Verdict        an SLO scoped with `variant:`

A run records variants when its game day names `load.variant_header`: each sample row
then carries the value of that header in the responses it counts (harness.samples).
A variant's SLIs are the SLIs of its rows alone, computed by the same code as the
aggregate ones (`phase_slis`, `per_second`), so `latency.p99{canary}@run` means exactly
what `latency.p99@run` means, for the canary's requests. Responses without the header
(a 429 before any version was chosen, a connection failure) form the variant NO_VARIANT.
Events (`events.*`) and the generator's offered rate have no variant and are left out.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.analysis.histdecode import entry_ranges
from harness.analysis.phases import Phases
from harness.analysis.rundir import Ledger, Samples
from harness.analysis.slis import PhaseSlis, Request, latencies, per_second, phase_slis
from harness.analysis.verdicts import NO_DATA, Evidence, Verdict, verdict_on
from harness.spec.models import Slo

NO_VARIANT = "(none)"
_RUN_ONLY = ("offered_rate",)


@dataclass(frozen=True)
class VariantSlis:
    """One variant's SLIs: per phase (as `phase_slis`) and per second (as `per_second`)."""

    phases: dict[str, PhaseSlis]
    per_second: pd.DataFrame


def variant_names(samples: Samples) -> tuple[str, ...]:
    """The variants the run recorded, sorted (empty for a run without a variant header)."""
    values = samples.requests["variant"] if "variant" in samples.requests else pd.Series(dtype=object)
    found = {NO_VARIANT if v == "" else v for v in values.dropna().unique()}
    return tuple(sorted(found))


def of_variant(samples: Samples, variant: str) -> Samples:
    """The rows of one variant with their histogram entries (generator rows kept whole)."""
    wanted = "" if variant == NO_VARIANT else variant
    mask = (samples.requests["variant"] == wanted).to_numpy()
    lengths = samples.hist_lengths[mask]
    starts = (np.cumsum(samples.hist_lengths) - samples.hist_lengths)[mask]
    where = entry_ranges(starts, lengths)
    return dataclasses.replace(
        samples,
        requests=samples.requests[mask].reset_index(drop=True),
        hist_lengths=lengths,
        hist_bucket=samples.hist_bucket[where],
        hist_count=samples.hist_count[where],
    )


def variant_slis(samples: Samples, phases: Phases, request: Request) -> dict[str, VariantSlis]:
    """Every recorded variant's VariantSlis (an empty dict for a run without variants)."""
    out = {}
    for variant in variant_names(samples):
        chosen = of_variant(samples, variant)
        tables = latencies(chosen, phases, request)
        table = phase_slis(chosen, _NO_EVENTS, phases, request, tables)
        out[variant] = VariantSlis(
            {name: _requests_only(slis) for name, slis in table.items()}, per_second(chosen, request, tables)
        )
    return out


def _requests_only(slis: PhaseSlis) -> PhaseSlis:
    endpoints = {
        endpoint: {k: v for k, v in values.items() if not k.startswith("events.") and k not in _RUN_ONLY}
        for endpoint, values in slis.endpoints.items()
    }
    return dataclasses.replace(slis, endpoints=endpoints)


def judge_variant(slo: Slo, variants: dict[str, VariantSlis]) -> Verdict:
    """The verdict of an SLO scoped to `slo.variant`: no-data when that variant answered nothing."""
    found = variants.get(slo.variant or "")
    if found is None:
        seen = ", ".join(variants) or "none: the responses carried no variant header"
        return Verdict(
            slo,
            NO_DATA,
            None,
            Evidence((), 0, 0, 0, False),
            f"no response was answered by variant {slo.variant!r} (variants seen: {seen})",
        )
    return verdict_on(slo, found.phases)


_NO_EVENTS = Ledger(
    pd.DataFrame(
        {
            "produced": pd.Series(dtype="float64"),
            "consumed": pd.Series(dtype="float64"),
            "deliveries": pd.Series(dtype="int64"),
        }
    ),
    0,
    0,
)
