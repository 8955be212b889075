"""The embedded scheduling model of Nova and Placement: build it from a plan, then decide.

>>> model = from_plan(plan)
>>> scheduler = Scheduler(model, seed=1)
>>> claim = scheduler.schedule(scheduler.prepare(request_from_flavor(flavor)))
"""

from __future__ import annotations

from gpuslice.model.cloud import (
    ACTIVE_FILTERS,
    PASSIVE_FILTERS,
    CloudModel,
    ProviderModel,
    SchedulerConfig,
    WeigherSetting,
    from_plan,
)
from gpuslice.model.filters import FILTERS, HostView, extra_spec_matches
from gpuslice.model.request import RequestSpec, request_from_flavor, scale_request
from gpuslice.model.scheduler import Claim, Prepared, Rejection, Scheduler
from gpuslice.model.weighers import WEIGHERS

__all__ = [
    "ACTIVE_FILTERS",
    "FILTERS",
    "PASSIVE_FILTERS",
    "WEIGHERS",
    "Claim",
    "CloudModel",
    "HostView",
    "Prepared",
    "ProviderModel",
    "Rejection",
    "RequestSpec",
    "Scheduler",
    "SchedulerConfig",
    "WeigherSetting",
    "extra_spec_matches",
    "from_plan",
    "request_from_flavor",
    "scale_request",
]
