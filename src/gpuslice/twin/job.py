"""What one real-nova run works on: a GPU host's job, and the rows it collects. Pure data."""

from __future__ import annotations

import dataclasses

from gpuslice.fleet import Host
from gpuslice.plan.types import HostPlan
from gpuslice.twin.ini import ConfEntry
from gpuslice.twin.report import Row


@dataclasses.dataclass(frozen=True)
class HostJob:
    """One GPU host as a run sees it: hardware, the rendered files, the plan's expectations."""

    host: Host
    plan: HostPlan | None
    conf: tuple[ConfEntry, ...]
    provider_yaml: str | None
    gpu_conf: tuple[ConfEntry, ...] = ()

    def signature(self) -> tuple[object, ...]:
        """Equal for hosts a run would treat the same (hardware and files)."""
        host = self.host
        gpus = tuple((g.address, g.vendor_id, g.product_id, g.numa_node) for g in host.gpus)
        conf = tuple((e.section, e.name, e.value) for e in self.conf)
        gpu_conf = tuple((e.section, e.name, e.value) for e in self.gpu_conf)
        return (
            len(host.cpus),
            host.cpu_numa,
            host.memory_mb,
            host.disk_gb,
            gpus,
            conf,
            gpu_conf,
            self.provider_yaml,
        )


class Steps:
    """Collects rows for one host and strategy."""

    def __init__(self, host: str, strategy: str) -> None:
        self.host = host
        self.strategy = strategy
        self.rows: list[Row] = []

    def add(self, step: str, expected: str, seen: str, ok: bool) -> bool:
        self.rows.append(Row(self.host, self.strategy, step, expected, seen, ok))
        return ok
