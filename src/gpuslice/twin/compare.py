"""Fidelity of the embedded model: one request sequence, replayed on real nova and on the model.

Pure except for `replay_on_nova`, which drives a running real nova through `NovaTwin`. The
sequence is made on the model from a seed: boots of a few ordinary sizes and of the host's GPU
flavor, and deletes of VMs the model has running. A delete names the boot it undoes; nova
deletes it if that boot went ACTIVE there ("absent" otherwise). A request agrees when both sides
accepted it or both refused it (for a delete: both had the VM).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from gpuslice.model import Claim, Scheduler, from_plan, request_from_flavor
from gpuslice.plan.types import Flavor, HostPlan, Plan

if TYPE_CHECKING:
    from gpuslice.twin._nova34 import NovaTwin

Kind = Literal["boot", "delete"]
Outcome = Literal["ACTIVE", "refused", "deleted", "absent", "error"]


@dataclass(frozen=True)
class Request:
    """One request of the sequence: boot `flavor`, or delete the VM of boot `target`."""

    index: int
    kind: Kind
    flavor: Flavor | None = None
    target: int | None = None

    def describe(self) -> str:
        if self.kind == "delete":
            return f"delete the VM of request {self.target}"
        assert self.flavor is not None
        f = self.flavor
        return f"boot {f.name} ({f.vcpus} vCPU, {f.ram} MB, {f.disk} GB)"


@dataclass(frozen=True)
class Agreement:
    """What nova and the model did with one request."""

    request: Request
    nova: Outcome
    model: Outcome

    @property
    def agrees(self) -> bool:
        return self.nova == self.model

    def as_dict(self) -> dict[str, object]:
        return {
            "index": self.request.index,
            "request": self.request.describe(),
            "nova": self.nova,
            "model": self.model,
            "agrees": self.agrees,
        }


def ordinary_flavors(host: HostPlan) -> tuple[Flavor, ...]:
    """Three ordinary sizes, a small, a middle and a large share of the host's general part."""
    general = host.general
    out: list[Flavor] = []
    for name, share in (("cmp.small", 8), ("cmp.medium", 4), ("cmp.large", 2)):
        vcpus = max(1, general.vcpus // share)
        ram = max(64, general.memory_mb // share)
        disk = general.disk_gb // share
        out.append(Flavor(name, vcpus, ram, disk, is_public=True, extra_specs={}))
    return tuple(out)


def play_on_model(
    plan: Plan,
    host: HostPlan,
    ordinary: Sequence[Flavor],
    gpu: Flavor | Sequence[Flavor],
    *,
    length: int,
    seed: int,
) -> tuple[list[Request], list[Outcome]]:
    """Make the sequence on the embedded model (a cloud of this one host) and its outcomes.

    Each request draws from `seed`: a delete (35 %, of a VM the model has running), a GPU boot
    (30 %; one of `gpu` when it lists several, such as a vGPU model's sizes) or an ordinary boot
    of one of three sizes. Nova then replays the same requests.
    """
    rng = random.Random(seed)
    scheduler = Scheduler(from_plan(dataclasses.replace(plan, hosts=(host,))), seed=seed)
    overrides = plan.release.has("resource_overrides_in_flavor")
    live: dict[int, Claim] = {}
    requests: list[Request] = []
    outcomes: list[Outcome] = []
    for index in range(length):
        draw = rng.random()
        if draw < 0.35 and live:
            target = rng.choice(sorted(live))
            scheduler.release(live.pop(target))
            requests.append(Request(index, "delete", target=target))
            outcomes.append("deleted")
            continue
        if draw >= 0.65:
            flavor = rng.choice(list(ordinary))
        else:
            flavor = gpu if isinstance(gpu, Flavor) else rng.choice(list(gpu))
        prepared = scheduler.prepare(request_from_flavor(flavor, overrides=overrides))
        placed = scheduler.schedule(prepared)
        if placed is not None:
            live[index] = placed
        requests.append(Request(index, "boot", flavor=flavor))
        outcomes.append("ACTIVE" if placed is not None else "refused")
    return requests, outcomes


def replay_on_nova(
    twin: NovaTwin, flavor_ids: Mapping[str, str], requests: Sequence[Request]
) -> list[Outcome]:
    """What real nova does with each request (flavors already created, by name -> id)."""
    live: dict[int, str] = {}
    outcomes: list[Outcome] = []
    for request in requests:
        if request.kind == "delete":
            server = live.pop(-1 if request.target is None else request.target, None)
            if server is not None:
                twin.delete(server)
            outcomes.append("deleted" if server is not None else "absent")
            continue
        assert request.flavor is not None
        result = twin.boot(f"cmp-{request.index}", flavor_ids[request.flavor.name])
        if result.active:
            live[request.index] = result.server_id
            outcomes.append("ACTIVE")
        elif "No valid host" in result.fault:
            outcomes.append("refused")
        else:
            outcomes.append("error")
    for server in live.values():
        twin.delete(server)
    return outcomes


def agreements(
    requests: Sequence[Request], nova: Sequence[Outcome], model: Sequence[Outcome]
) -> list[Agreement]:
    """Request by request, side by side."""
    return [Agreement(r, n, m) for r, n, m in zip(requests, nova, model, strict=True)]
