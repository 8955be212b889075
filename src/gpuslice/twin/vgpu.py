"""The scenario verify runs on a host with vGPU cards, on real nova 34.

Each card's provider is checked by the planned name (VGPU from nova, the slice from
provider.yaml); ordinary VMs then fill the host; 1-vGPU VMs boot until every vGPU is taken, each
with an mdev in its guest XML and its allocation's VGPU and slice on one card's provider; one
more is refused. On a host that also passes GPUs through whole, each of those then boots too.
Every step adds a row (expected, seen) to `Steps`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from typing import TYPE_CHECKING

import yaml

from gpuslice.fleet import Fleet, GpuModel
from gpuslice.plan.common import GPU_MEMORY, GPU_VCPU
from gpuslice.plan.vgpu import (
    VGPU,
    VGPU_MEMORY,
    VGPU_VCPU,
    parent_inventory,
    provider_name,
    vgpu_parents,
    vgpu_trait,
)
from gpuslice.twin.job import HostJob, Steps
from gpuslice.twin.scenario import (
    NO_VALID_HOST,
    HostUnderTest,
    _fill_rows,
    _outcome,
    _refused,
    attached,
)

if TYPE_CHECKING:
    from gpuslice.twin._nova34 import NovaTwin


def mdevs_in(xml: str) -> int:
    """How many mediated devices the guest XML attaches (`<hostdev type='mdev'>`)."""
    return sum(1 for h in ET.fromstring(xml).iter("hostdev") if h.get("type") == "mdev")


def provider_yaml_names(text: str | None) -> list[str]:
    """The provider names a rendered provider.yaml identifies (`identification: {name: ...}`)."""
    if not text:
        return []
    data = yaml.safe_load(text) or {}
    return [
        str(p["identification"]["name"])
        for p in data.get("providers", [])
        if isinstance(p, dict) and "name" in (p.get("identification") or {})
    ]


def _cards_of(by_name: dict[str, dict[str, object]]) -> list[str]:
    return sorted(n for n in by_name if "_pci_" in n)


def _one_vgpu_flavor(twin: NovaTwin, model: GpuModel) -> tuple[str, str] | None:
    assert model.vgpu is not None
    smallest = model.vgpu.flavors[0]
    found = next((f for f in twin.flavors() if f["name"] == smallest.name), None)
    return (str(found["id"]), smallest.name) if found is not None else None


def run_vgpu_scenario(
    twin: NovaTwin, steps: Steps, fleet: Fleet, job: HostJob, rp_uuid: str, tied: bool
) -> None:
    """Cards seen as planned; ordinary VMs fill the host; every vGPU still boots, tied to its
    card when `tied`; one more is refused. Every VM is deleted at the end (a model comparison
    may follow on the empty host)."""
    host = job.host
    cards = fleet.vgpu_gpus(host)
    parents = vgpu_parents(fleet, host)
    by_name = {p["name"]: p for p in twin.providers()}
    names = {address: provider_name(host, address) for _, address in parents}
    named = provider_yaml_names(job.provider_yaml)
    if named:
        absent = [n for n in named if n not in by_name]
        steps.add(
            "provider.yaml names providers nova has (its hypervisor hostname)",
            ", ".join(named),
            "absent: " + ", ".join(absent) + f" (nova's: {', '.join(_cards_of(by_name))})"
            if absent
            else ", ".join(named),
            not absent,
        )
    for gpu, address in parents:
        model = fleet.model_of(gpu)
        inventory = parent_inventory(model)
        want = inventory if tied else {VGPU: inventory[VGPU]}
        name = names[address]
        what = f"card {gpu.address}" if address == gpu.address else f"VF {address} of {gpu.address}"
        provider = by_name.get(name)
        expected = ", ".join(f"{rc} {i.total}" for rc, i in want.items())
        if tied:
            expected += f"; trait {vgpu_trait(model)}"
        if provider is None:
            under = sorted(n for n in by_name if n.endswith(name.split("_pci_", 1)[1]))
            seen = f"no provider of that name (nova's: {', '.join(under) or 'none'})"
            steps.add(f"{what}: provider {name}", expected, seen, False)
            continue
        inv = twin.inventories(provider["uuid"])
        got = ", ".join(f"{rc} {int(inv[rc]['total'])}" for rc in want if rc in inv)
        ok = all(rc in inv and int(inv[rc]["total"]) == i.total for rc, i in want.items())
        if tied:
            traits = twin.traits(provider["uuid"])
            got += f"; trait {vgpu_trait(model) if vgpu_trait(model) in traits else 'missing'}"
            ok = ok and vgpu_trait(model) in traits
        steps.add(f"{what}: provider {name}", expected, got, ok)

    under_test = HostUnderTest(twin, fleet, job, rp_uuid)
    label = "ordinary first"
    _fill_rows(under_test, steps, fleet, label)
    uuid_to_name = {p["uuid"]: p["name"] for p in by_name.values()}
    for model in {fleet.model_of(g).alias: fleet.model_of(g) for g in cards}.values():
        assert model.vgpu is not None
        flavor = _one_vgpu_flavor(twin, model)
        if flavor is None:
            steps.add(
                f"{label}: vGPU flavor of {model.alias}", "in cloud-objects.json", "none", False
            )
            continue
        flavor_id, flavor_name = flavor
        mine = [a for g, a in parents if fleet.model_of(g) is model]
        per_parent = parent_inventory(model)[VGPU].total
        count = len(mine) * per_parent
        per_card: Counter[str] = Counter()
        booted: list[tuple[str, str]] = []
        active = 0
        for index in range(1, count + 1):
            result = under_test.boot("vgpu", flavor_id)
            seen = _outcome(result)
            ok = result.active
            if result.active:
                active += 1
                xml = twin.guest_xml(under_test.name, result.server_id)
                allocation = twin.allocations(result.server_id)
                holders = {
                    rc: [uuid_to_name.get(rp, rp) for rp, a in allocation.items() if rc in a]
                    for rc in (VGPU, GPU_VCPU, GPU_MEMORY, VGPU_VCPU, VGPU_MEMORY)
                }
                vgpu_on = holders[VGPU]
                per_card.update(vgpu_on)
                booted.extend((result.server_id, name) for name in vgpu_on)
                seen = f"ACTIVE, {mdevs_in(xml)} mdev in guest XML; VGPU on {', '.join(vgpu_on)}"
                ok = mdevs_in(xml) == 1 and len(vgpu_on) == 1
                if tied:
                    same = holders[VGPU_VCPU] == vgpu_on and holders[VGPU_MEMORY] == vgpu_on
                    seen += (
                        "; slice on the same provider"
                        if same
                        else (f"; slice on {', '.join(holders[VGPU_VCPU] + holders[VGPU_MEMORY])}")
                    )
                    ok = ok and same
                elif holders[GPU_VCPU]:
                    seen += f"; slice on {', '.join(holders[GPU_VCPU])} (pooled)"
            steps.add(
                f"{label}: {flavor_name} VM {index} of {count}",
                "ACTIVE, 1 mdev; VGPU" + (" and slice" if tied else "") + " on one card",
                seen,
                ok,
            )
        want_cards = {names[a]: per_parent for a in mine}
        steps.add(
            f"{label}: vGPUs per card",
            ", ".join(f"{n} {c}" for n, c in sorted(want_cards.items())),
            ", ".join(f"{n} {c}" for n, c in sorted(per_card.items())) or "none",
            dict(per_card) == want_cards,
        )
        result = under_test.boot("vgpu", flavor_id)
        steps.add(
            f"{label}: one more {flavor_name} VM (every vGPU in use)",
            NO_VALID_HOST,
            _outcome(result),
            _refused(result),
        )
        if active == 0:
            break
        _largest_after_freeing(under_test, steps, model, booted, tied, label)
    _passthrough_beside(under_test, steps, fleet, label)
    under_test.delete_all()


def _largest_after_freeing(
    host: HostUnderTest,
    steps: Steps,
    model: GpuModel,
    booted: list[tuple[str, str]],
    tied: bool,
    label: str,
) -> None:
    """The model's largest flavor (k > 1 vGPUs) boots once k 1-vGPU VMs are deleted, with k
    mdevs in its guest XML and each VGPU's slice on the provider of that VGPU: on one card
    where a card holds the type, on k VFs where each VF holds one (`vgpu_on: vfs`)."""
    assert model.vgpu is not None
    largest = model.vgpu.flavors[-1]
    k = largest.vgpus
    found = next((f for f in host.twin.flavors() if f["name"] == largest.name), None)
    if k < 2 or found is None:
        return
    on_vfs = model.vgpu.on == "vfs"
    by_provider: dict[str, list[str]] = {}
    for server_id, name in booted:
        by_provider.setdefault(name, []).append(server_id)
    if on_vfs:
        freed = [servers[0] for servers in by_provider.values()][:k]
    else:
        freed = max(by_provider.values(), key=len)[:k]
    if len(freed) < k:
        return
    for server_id in freed:
        host.twin.delete(server_id)
    result = host.boot("vgpu", str(found["id"]))
    seen = _outcome(result)
    ok = result.active
    where = f"{k} VFs" if on_vfs else "one card"
    if result.active:
        xml = host.twin.guest_xml(host.name, result.server_id)
        allocation = host.twin.allocations(result.server_id)
        vgpus = {rp: a[VGPU] for rp, a in allocation.items() if VGPU in a}
        slices = {
            rp: (a.get(VGPU_VCPU, 0), a.get(VGPU_MEMORY, 0))
            for rp, a in allocation.items()
            if VGPU_VCPU in a or VGPU_MEMORY in a
        }
        seen = (
            f"ACTIVE, {mdevs_in(xml)} mdev in guest XML; VGPU on {len(vgpus)} provider(s)"
            f" ({', '.join(str(n) for n in sorted(vgpus.values()))})"
        )
        ok = mdevs_in(xml) == k and sum(vgpus.values()) == k
        ok = ok and len(vgpus) == (k if on_vfs else 1)
        if tied:
            per = model.slice
            same = set(slices) == set(vgpus) and all(
                slices[rp] == (n * per.vcpus, n * per.memory_mb) for rp, n in vgpus.items()
            )
            seen += "; each VGPU's slice on its provider" if same else "; slice elsewhere"
            ok = ok and same
    steps.add(
        f"{label}: {largest.name} VM after deleting {k} 1-vGPU VMs",
        f"ACTIVE, {k} mdevs; VGPU" + (" and slice" if tied else "") + f" on {where}",
        seen,
        ok,
    )


def _passthrough_beside(host: HostUnderTest, steps: Steps, fleet: Fleet, label: str) -> None:
    """On a host that mixes models, each passed-through GPU still boots its 1-GPU flavor (its
    device in the guest XML) once the vGPUs are taken, and one more is refused."""
    passed = fleet.passthrough_gpus(host.job.host)
    if not passed:
        return
    for index, gpu in enumerate(passed, start=1):
        flavor_id = host.gpu_flavor[gpu.address][0]
        result = host.boot("gpu", flavor_id)
        seen = _outcome(result)
        ok = result.active
        if result.active:
            devices = attached(host.twin.guest_xml(host.name, result.server_id))
            seen = f"ACTIVE, guest XML: {', '.join(devices) or 'no PCI device'}"
            ok = devices == [gpu.address] or (
                len(devices) == 1 and devices[0] in {g.address for g in passed}
            )
        steps.add(
            f"{label}: passthrough GPU VM {index} of {len(passed)} beside the vGPUs",
            f"ACTIVE with a {gpu.vendor_product} in the guest XML",
            seen,
            ok,
        )
    result = host.boot("gpu", host.gpu_flavor[passed[0].address][0])
    steps.add(
        f"{label}: one more passthrough GPU VM (all passed-through GPUs in use)",
        NO_VALID_HOST,
        _outcome(result),
        _refused(result),
    )
