"""Benchmark plan and render at scale through the CLI; prints figures, asserts nothing.

    .venv/bin/python bench/bench_plan.py                 # 8,000 GPU hosts, 8 GPUs each
    .venv/bin/python bench/bench_plan.py --gpus 1        # 8,000 hosts, one GPU each
    .venv/bin/python bench/bench_plan.py --hosts 2000    # smaller
    .venv/bin/python bench/bench_plan.py --profile plan  # cProfile one command, top 25

Each command runs in a fresh process (the child calls `gpuslice.cli.main`), so its time
includes imports and reading the fleet file, as a user sees it. CPU time (user + system) is
printed beside wall time because a shared machine's load stretches wall time; peak memory is the
child's own max RSS. The fleet: N GPU hosts with --gpus GPUs each (half per NUMA
node, explicit addresses) plus 3 controllers, strategy placement on 2025.1, written as the YAML a
user would write. Targets (issue 11): under 5 s each, peak under 500 MB, on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

COMMANDS = {
    "plan": ["plan", "{fleet}"],
    "plan --json": ["plan", "{fleet}", "--json"],
    "render": ["render", "{fleet}", "--out", "{out}"],
}

CHILD = """
import resource, sys
from gpuslice.cli import main
code = main(sys.argv[1:])
sys.stderr.write(f"\\nPEAK {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\\n")
sys.exit(code)
"""


def fleet_text(hosts: int, gpus: int = 8) -> str:
    """The benchmark fleet as YAML (see the module docstring)."""
    lines = [
        'release: "2025.1"',
        "strategy: placement",
        "slice: {vcpus: 4, memory_mb: 16384, disk_gb: 100}",
        "controllers: [ctl1, ctl2, ctl3]",
        "hosts:",
    ]
    for index in range(hosts):
        lines += [
            f"  - name: gpu{index:05d}",
            "    cpus: 128",
            "    memory_mb: 1048576",
            "    disk_gb: 3500",
            "    gpus:",
        ]
        for gpu in range(gpus):
            bus = 0x18 + gpu * 0x10
            lines.append(
                f'      - {{address: "0000:{bus:02x}:00.0", vendor_id: "10de", '
                f'product_id: "2330", numa_node: {gpu * 2 // max(gpus, 2)}}}'
            )
    return "\n".join(lines) + "\n"


def run_child(args: list[str]) -> tuple[float, float, float, int]:
    """Run gpuslice with `args` in a fresh process: wall and CPU seconds, peak MB, exit code."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    before, cpu_before = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime - cpu_before
    err = done.stderr.decode(errors="replace")
    if done.returncode:
        sys.stderr.write(err[-2000:])
    # The child reports its own max RSS (RUSAGE_CHILDREN would give the largest child so far).
    peaks = [line.split()[1] for line in err.splitlines() if line.startswith("PEAK ")]
    peak = int(peaks[-1]) if peaks else max(usage.ru_maxrss, before)
    return wall, cpu, peak / 1024, done.returncode


def profile(args: list[str]) -> None:
    """cProfile one command in this process and print the top 25 by cumulative time."""
    import cProfile
    import io
    import pstats

    sys.path.insert(0, str(ROOT / "src"))
    from gpuslice.cli import main

    profiler = cProfile.Profile()
    profiler.enable()
    main(args)
    profiler.disable()
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).sort_stats(
        os.environ.get("BENCH_SORT", "cumulative")
    ).print_stats(25)
    sys.stderr.write(stream.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=8000)
    parser.add_argument("--gpus", type=int, default=8, help="GPUs per host (default 8)")
    parser.add_argument("--profile", choices=sorted(COMMANDS))
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        fleet = Path(work) / "fleet.yaml"
        fleet.write_text(fleet_text(options.hosts, options.gpus), encoding="utf-8")
        size = fleet.stat().st_size
        print(
            f"fleet: {options.hosts:,} GPU hosts x {options.gpus} GPUs, "
            f"{size / 1e6:.1f} MB of YAML; load average {os.getloadavg()[0]:.1f}"
        )
        for name, template in COMMANDS.items():
            if options.profile and name != options.profile:
                continue
            out = Path(work) / f"out-{name.replace(' ', '')}"
            args = [part.format(fleet=fleet, out=out) for part in template]
            if options.profile:
                with open(os.devnull, "w") as sink:
                    saved, sys.stdout = sys.stdout, sink
                    try:
                        profile(args)
                    finally:
                        sys.stdout = saved
                continue
            wall, cpu, peak, code = run_child(args)
            print(
                f"{name:12s} wall {wall:6.2f} s   CPU {cpu:6.2f} s   peak {peak:6.0f} MB   "
                f"exit {code}",
                flush=True,
            )


if __name__ == "__main__":
    main()
