"""A sweep's trade-off as self-contained HTML: inline SVG, no scripts, no downloads.

`render_sweep_report(sweep)` is pure (a Sweep in, HTML text out); `write_sweep_report` writes
`index.html` and `sweep.json` into a directory. It reuses the simulation report's style and
strategy colours.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

from gpuslice.errors import InputError
from gpuslice.sim.report import STYLE, _colour, write_page
from gpuslice.sim.sweep import Cell, Sweep, slice_label, summarize, to_json

WIDTH, HEIGHT, PAD_L, PAD_R, PAD_T, PAD_B = 640, 360, 56, 130, 28, 40


def tradeoff_chart(title: str, cells: Sequence[Cell]) -> str:
    """Promise breaks (mean over seeds, y) against ordinary vCPUs lost (x), one dot per cell.

    Dots of one strategy and workload are joined in slice order, so a line shows what a bigger
    slice buys (fewer breaks) and costs (more capacity lost).
    """
    ran = [c for c in cells if c.skipped is None]
    x_top = max((c.cpu_lost for c in ran), default=0.0) or 0.01
    y_top = max((c.breaks_mean for c in ran), default=0.0) or 1.0
    plot_w, plot_h = WIDTH - PAD_L - PAD_R, HEIGHT - PAD_T - PAD_B

    def px(x: float) -> float:
        return PAD_L + x / x_top * plot_w

    def py(y: float) -> float:
        return PAD_T + plot_h - y / y_top * plot_h

    parts = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-label="{html.escape(title)}">',
        f'<text x="{PAD_L}" y="16" class="t">{html.escape(title)}</text>',
        f'<rect x="{PAD_L}" y="{PAD_T}" width="{plot_w}" height="{plot_h}" class="frame"/>',
    ]
    for i in range(5):
        y = py(y_top * i / 4)
        x = px(x_top * i / 4)
        parts.append(
            f'<line x1="{PAD_L}" x2="{PAD_L + plot_w}" y1="{y:.1f}" y2="{y:.1f}" class="g"/>'
            f'<text x="{PAD_L - 4}" y="{y + 4:.1f}" class="yl">{y_top * i / 4:.3g}</text>'
            f'<text x="{x:.1f}" y="{PAD_T + plot_h + 14}" class="xl">{x_top * i / 4:.0%}</text>'
        )
    parts.append(
        f'<text x="{PAD_L + plot_w / 2}" y="{HEIGHT - 6}" class="xl">ordinary vCPUs out of '
        "reach, compared with none</text>"
        f'<text x="12" y="{PAD_T + plot_h / 2}" class="xl" transform="rotate(-90 12 '
        f'{PAD_T + plot_h / 2})">GPU VMs refused while a GPU was free</text>'
    )
    lines: dict[tuple[str, str], list[Cell]] = {}
    for c in ran:
        lines.setdefault((c.strategy, c.workload), []).append(c)
    strategies: list[str] = []
    for (strategy, _workload), group in lines.items():
        colour = _colour(strategy)
        if strategy not in strategies:
            strategies.append(strategy)
        if len(group) > 1:
            points = " ".join(f"{px(c.cpu_lost):.1f},{py(c.breaks_mean):.1f}" for c in group)
            parts.append(
                f'<polyline points="{points}" fill="none" stroke="{colour}" '
                'stroke-width="1" stroke-opacity="0.5"/>'
            )
        for c in group:
            tip = (
                f"{c.strategy}, slice {slice_label(c.slice)}, "
                f"{c.workload}: {c.breaks_mean:.3g} breaks, {c.cpu_lost:.1%} vCPUs lost"
            )
            parts.append(
                f'<circle cx="{px(c.cpu_lost):.1f}" cy="{py(c.breaks_mean):.1f}" r="4" '
                f'fill="{colour}"><title>{html.escape(tip)}</title></circle>'
            )
    for index, strategy in enumerate(strategies):
        ly = PAD_T + 12 + index * 16
        parts.append(
            f'<rect x="{WIDTH - PAD_R + 8}" y="{ly - 8}" width="10" height="10" '
            f'fill="{_colour(strategy)}"/><text x="{WIDTH - PAD_R + 22}" y="{ly + 1}" '
            f'class="lg">{html.escape(strategy)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _row(c: Cell) -> str:
    esc = html.escape
    slice_ = slice_label(c.slice)
    head = (
        f'<td><span style="color:{_colour(c.strategy)}">■</span> {esc(c.strategy)}</td>'
        f"<td>{esc(slice_)}</td><td>{esc(c.workload)}</td>"
    )
    if c.skipped is not None:
        return f'<tr>{head}<td colspan="6">not planned: {esc(c.skipped)}</td></tr>'
    vs = "-" if c.ordinary_vs_none_mean is None else f"{c.ordinary_vs_none_mean:+.1%}"
    return (
        f"<tr>{head}"
        f'<td class="{"bad" if c.seeds_broken else "ok"}">{c.seeds_broken}/{c.seeds}</td>'
        f"<td>{c.breaks_mean:.3g} (max {c.breaks_max})</td>"
        f"<td>{c.gpu_acceptance_mean:.1%}</td>"
        f"<td>{c.ordinary_acceptance_mean:.1%}</td><td>{vs}</td>"
        f"<td>{c.cpu_lost:.1%} / {c.ram_lost:.1%}</td></tr>"
    )


def render_sweep_report(sweep: Sweep) -> str:
    """The whole report: one trade-off chart per workload, then the table of every cell."""
    cells = summarize(sweep)
    if not cells:
        raise InputError("nothing to report: the sweep has no point")
    esc = html.escape
    workloads = list(dict.fromkeys(c.workload for c in cells))
    charts = "".join(
        tradeoff_chart(
            f"{w}: promise breaks against capacity lost", [c for c in cells if c.workload == w]
        )
        for w in workloads
    )
    rows = "".join(_row(c) for c in cells)
    g = sweep.grid
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>gpuslice sweep: {esc(sweep.release)}</title><style>{STYLE}</style></head><body>
<h1>Slice sizes and strategies: promise against capacity, on {esc(sweep.release)}</h1>
<p>Fleet <code>{esc(sweep.fleet_source)}</code>; {len(sweep.results):,} points
({len(g.slices)} slices x {len(g.strategies)} strategies x {len(g.loads) + len(g.traces)}
workloads x {len(g.seeds)} seeds) run on {esc(sweep.engine)} with {sweep.workers} workers in
{sweep.wall_seconds:,.1f} s.</p>
<h2>Trade-off</h2>
<div class="grid">{charts}</div>
<h2>Every slice, strategy and workload (over seeds)</h2>
<table><tr><th>strategy</th><th>slice</th><th>workload</th><th>seeds broken</th>
<th>GPU refused while free (mean)</th><th>GPU booted</th><th>ordinary booted</th>
<th>vs none</th><th>ordinary capacity lost (CPU / RAM)</th></tr>{rows}</table>
<p><small>Made by gpuslice sweep. Capacity lost: vCPUs and RAM that an ordinary flavor can no
longer reach, compared with strategy none at the same slice.</small></p>
</body></html>
"""


def write_sweep_report(sweep: Sweep, out_dir: str | Path) -> Path:
    """Write `index.html` and `sweep.json` into `out_dir`; return the HTML's path."""
    return write_page(out_dir, render_sweep_report(sweep), "sweep.json", to_json(sweep))
