"""The embedded scheduling model of Nova and Placement: build it from a plan, then decide.

>>> model = from_plan(plan)
>>> scheduler = Scheduler(model, seed=1)
>>> claim = scheduler.schedule(scheduler.prepare(request_from_flavor(flavor)))
"""

from __future__ import annotations

from gpuslice.model.cloud import (
    CloudModel,
    ProviderModel,
    SchedulerConfig,
    WeigherSetting,
    from_plan,
)
from gpuslice.model.request import RequestSpec, request_from_flavor, scale_request
from gpuslice.model.rules import FILTER_NAMES, FILTERS, PASSIVE, WEIGHERS, HostView, normalize
from gpuslice.model.rules.filters import extra_spec_matches
from gpuslice.model.scheduler import Claim, Prepared, Rejection, Scheduler

__all__ = [
    "FILTERS",
    "FILTER_NAMES",
    "PASSIVE",
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
    "normalize",
    "request_from_flavor",
    "scale_request",
]
