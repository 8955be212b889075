"""The demo scenario end to end: discover, plan, render, simulate, judge.

`run_demo(out_dir)` returns data; the CLI prints it. Steps:
1. discover the GPUs in the bundled lspci capture of hyper18;
2. plan the bright-lab fleet for Newton (`fleet.yaml`, split) and for 2025.1
   (`fleet-2025.1.yaml`, placement) and render both below `out_dir`;
3. simulate every strategy each release allows on a stress workload that fills the cloud
   (offered load 1.5, one VM in 25 a GPU VM), the same workload and seed for all;
4. write one HTML report with both simulations, and say which strategies keep the promise;
5. where the GPU menu example sits next to the lab (`examples/gpu-menu`: A100 hosts with 1, 2
   and 4-GPU flavors, L40S hosts), plan, render and simulate it too (none and placement), every
   model and flavor size in the workload.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gpuslice
from gpuslice import inputs
from gpuslice.errors import InputError
from gpuslice.fleetfile import load_fleet
from gpuslice.inventory import GpuDevice, discover_from_lspci
from gpuslice.plan import make_plan
from gpuslice.render import write_tree
from gpuslice.sim.engine import Progress
from gpuslice.sim.report import write_report
from gpuslice.sim.runner import Simulation, simulate, synthetic_for
from gpuslice.sim.workload import SyntheticSpec

STRESS = SyntheticSpec(requests=4000, load=1.5, gpu_share=0.04, lifetime_mean=3600.0)


@dataclass(frozen=True)
class Rendered:
    """One fleet planned and rendered."""

    fleet: str
    release: str
    strategy: str
    out_dir: Path
    files: int


@dataclass(frozen=True)
class DemoResult:
    """Everything the demo did, for the CLI to tell."""

    lab: Path
    gpus: tuple[GpuDevice, ...]
    rendered: tuple[Rendered, ...]
    simulations: tuple[Simulation, ...]
    report: Path
    menu: Simulation | None = None


def find_lab(lab: str | Path | None = None) -> Path:
    """The bright-lab example: `lab` if given, else next to the sources, else in the cwd."""
    candidates = (
        [Path(lab)]
        if lab is not None
        else [
            Path(gpuslice.__file__).resolve().parents[2] / "examples" / "bright-lab",
            Path.cwd() / "examples" / "bright-lab",
        ]
    )
    for path in candidates:
        if (path / "fleet.yaml").is_file() and (path / "fleet-2025.1.yaml").is_file():
            return path
    msg = "cannot find examples/bright-lab (fleet.yaml, fleet-2025.1.yaml); pass --lab DIR"
    raise InputError(msg, source=str(candidates[0]))


def run_demo(
    out_dir: str | Path,
    *,
    lab: str | Path | None = None,
    seed: int = 1,
    workload: SyntheticSpec = STRESS,
    progress: Callable[[str], Progress | None] | None = None,
) -> DemoResult:
    """Run the demo (steps in the module docstring) and return what it did."""
    where = find_lab(lab)
    out = Path(out_dir)
    capture = where / "captures" / "hyper18.txt"
    text = inputs.read_text(capture, inputs.CAPTURE, regular_only=True)
    gpus = discover_from_lspci(text, str(capture)).gpus
    rendered: list[Rendered] = []
    simulations: list[Simulation] = []
    for name in ("fleet.yaml", "fleet-2025.1.yaml"):
        fleet = load_fleet(where / name)
        plan = make_plan(fleet)
        target = out / f"{fleet.release.name}-{plan.strategy}"
        files = write_tree(plan, target)
        rendered.append(Rendered(name, str(fleet.release), plan.strategy, target, len(files)))
        stress = synthetic_for(fleet, workload, seed)
        simulations.append(simulate(fleet, stress, seed=seed, progress=progress))
    menu: Simulation | None = None
    menu_fleet = where.parent / "gpu-menu" / "fleet.yaml"
    if menu_fleet.is_file():
        fleet = load_fleet(menu_fleet)
        plan = make_plan(fleet)
        target = out / f"menu-{fleet.release.name}-{plan.strategy}"
        files = write_tree(plan, target)
        rendered.append(Rendered("gpu-menu", str(fleet.release), plan.strategy, target, len(files)))
        stress = synthetic_for(fleet, workload, seed)
        menu = simulate(
            fleet, stress, strategies=("none", "placement"), seed=seed, progress=progress
        )
    sims = [*simulations, *([menu] if menu is not None else [])]
    report = write_report(sims, out / "report", title="gpuslice demo: the bright lab")
    return DemoResult(where, gpus, tuple(rendered), tuple(simulations), report, menu)
