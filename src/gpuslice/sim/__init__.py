"""The simulator: workloads, trace readers, the event loop, strategy comparison, reports.

>>> sim = simulate(fleet, synthetic_for(fleet, SyntheticSpec(load=1.2), seed=1), seed=1)
>>> [r.gpu_refused_while_free for r in sim.results]
"""

from __future__ import annotations

from gpuslice.sim.engine import Event, StrategyResult, run
from gpuslice.sim.runner import (
    ALL_STRATEGIES,
    Simulation,
    Skipped,
    simulate,
    synthetic_for,
    to_json,
)
from gpuslice.sim.traces import (
    parse_alibaba_nodes,
    parse_alibaba_pods,
    parse_generic,
    read_alibaba_fleet,
    read_trace,
)
from gpuslice.sim.workload import SyntheticSpec, VmRequest, Workload, generate

__all__ = [
    "ALL_STRATEGIES",
    "Event",
    "Simulation",
    "Skipped",
    "StrategyResult",
    "SyntheticSpec",
    "VmRequest",
    "Workload",
    "generate",
    "parse_alibaba_nodes",
    "parse_alibaba_pods",
    "parse_generic",
    "read_alibaba_fleet",
    "read_trace",
    "run",
    "simulate",
    "synthetic_for",
    "to_json",
]
