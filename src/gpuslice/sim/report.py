"""A self-contained HTML report of a simulation: inline SVG plots, no scripts, no downloads.

`render_report(sim)` is pure (a Simulation in, HTML text out); `write_report` writes
`index.html` and `simulation.json` into a directory.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from itertools import accumulate
from pathlib import Path

from gpuslice.errors import InputError
from gpuslice.sim.engine import StrategyResult
from gpuslice.sim.runner import Simulation, to_json

COLOURS = {
    "none": "#d62728",
    "weigher": "#ff7f0e",
    "dedicated": "#9467bd",
    "split": "#1f77b4",
    "placement": "#2ca02c",
}
WIDTH, HEIGHT, PAD_L, PAD_R, PAD_T, PAD_B = 560, 220, 52, 110, 24, 34


def _colour(name: str) -> str:
    return COLOURS.get(name, "#555555")


def _fmt(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def line_chart(
    title: str,
    xs: Sequence[float],
    lines: Sequence[tuple[str, str, Sequence[float]]],
    *,
    y_max: float | None = None,
    y_label: str = "",
    percent: bool = False,
    x_label: str | None = None,
) -> str:
    """An SVG line chart: `lines` are (label, colour, values at xs).

    The x axis is time in seconds (labelled in hours) unless `x_label` names it.
    """
    x0, x1 = (min(xs), max(xs)) if xs else (0.0, 1.0)
    if x1 <= x0:
        x1 = x0 + 1
    top = y_max if y_max is not None else max((max(v) for _, _, v in lines if v), default=1.0)
    top = top or 1.0
    plot_w, plot_h = WIDTH - PAD_L - PAD_R, HEIGHT - PAD_T - PAD_B

    def px(x: float) -> float:
        return PAD_L + (x - x0) / (x1 - x0) * plot_w

    def py(y: float) -> float:
        return PAD_T + plot_h - (y / top) * plot_h

    parts = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="{html.escape(title)}">',
        f'<text x="{PAD_L}" y="15" class="t">{html.escape(title)}</text>',
        f'<rect x="{PAD_L}" y="{PAD_T}" width="{plot_w}" height="{plot_h}" class="frame"/>',
    ]
    for i in range(5):
        value = top * i / 4
        y = py(value)
        label = f"{value:.0%}" if percent else _fmt(value)
        parts.append(
            f'<line x1="{PAD_L}" x2="{PAD_L + plot_w}" y1="{y:.1f}" y2="{y:.1f}" class="g"/>'
        )
        parts.append(f'<text x="{PAD_L - 4}" y="{y + 4:.1f}" class="yl">{label}</text>')
    hours = (x1 - x0) / 3600
    axis = (
        html.escape(x_label)
        if x_label is not None
        else (f"time: {hours:,.1f} h from the first request")
    )
    parts.append(
        f'<text x="{PAD_L + plot_w / 2}" y="{HEIGHT - 6}" class="xl">'
        f"{axis}{(' · ' + y_label) if y_label else ''}</text>"
    )
    for index, (label, colour, values) in enumerate(lines):
        points = " ".join(f"{px(x):.1f},{py(v):.1f}" for x, v in zip(xs, values, strict=False))
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>'
        )
        ly = PAD_T + 12 + index * 16
        parts.append(
            f'<rect x="{WIDTH - PAD_R + 8}" y="{ly - 8}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{WIDTH - PAD_R + 22}" y="{ly + 1}" class="lg">{html.escape(label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(title: str, bars: Sequence[tuple[str, str, float]], *, percent: bool = True) -> str:
    """A horizontal SVG bar chart: `bars` are (label, colour, value); values 0..1 if percent."""
    height = PAD_T + 22 * len(bars) + 12
    top = max((v for _, _, v in bars), default=1.0) if not percent else 1.0
    top = top or 1.0
    plot_w = WIDTH - 130 - 70
    parts = [
        f'<svg viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" '
        f'aria-label="{html.escape(title)}">',
        f'<text x="8" y="15" class="t">{html.escape(title)}</text>',
    ]
    for i, (label, colour, value) in enumerate(bars):
        y = PAD_T + i * 22
        w = max(0.0, value / top) * plot_w
        text = f"{value:.1%}" if percent else _fmt(value)
        parts.append(
            f'<text x="122" y="{y + 13}" class="yl">{html.escape(label)}</text>'
            f'<rect x="130" y="{y}" width="{w:.1f}" height="16" fill="{colour}"/>'
            f'<text x="{134 + w:.1f}" y="{y + 13}" class="lg">{text}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222}
h1{font-size:1.5em} h2{font-size:1.15em;margin-top:1.6em}
.grid{display:flex;flex-wrap:wrap;gap:12px}
svg{background:#fff;border:1px solid #ddd;border-radius:4px}
svg .t{font-size:13px;font-weight:600} svg .yl{font-size:10px;text-anchor:end}
svg .xl{font-size:10px;text-anchor:middle} svg .lg{font-size:11px}
svg .frame{fill:none;stroke:#999} svg .g{stroke:#eee}
table{border-collapse:collapse;margin:1em 0} td,th{padding:4px 10px;border-bottom:1px solid #ddd}
td{text-align:right} td:first-child{text-align:left}
.ok{color:#2ca02c;font-weight:600} .bad{color:#d62728;font-weight:600}
h1.sub{font-size:1.3em;margin-top:1.5em}
.verdict{font-size:1.1em;padding:.6em 1em;background:#f6f6f6;border-radius:4px}
pre{background:#f6f6f6;padding:.6em;overflow-x:auto;font-size:12px}
"""


def _vgpu_cells(r: StrategyResult) -> str:
    """The vGPU columns of one strategy's row."""
    broken = r.vgpu_refused_while_free
    return (
        f"<td>{r.vgpu_accepted:,} / {r.vgpu_requests:,}</td>"
        f'<td class="{"bad" if broken else "ok"}">{broken:,}</td>'
        f"<td>{r.vgpu_refused_fragmented:,}</td>"
        f"<td>{html.escape(r.vgpu_form.replace('_', ' '))}</td>"
    )


def _section(sim: Simulation, sub: bool = False) -> str:
    """One simulation's verdict, comparison, plots and explanations."""
    esc = html.escape
    rows: list[str] = []
    verdicts: list[str] = []
    vgpus = any(r.vgpu_requests for r in sim.results)
    for r in sim.results:
        cpu_cost, ram_cost = sim.cost(r)
        delta = sim.acceptance_delta(r)
        kept = r.promise_kept
        rows.append(
            "<tr>"
            f'<td><span style="color:{_colour(r.name)}">■</span> {esc(r.name)}</td>'
            f"<td>{esc(r.promise)}</td>"
            f'<td class="{"ok" if kept else "bad"}">{r.gpu_refused_while_free:,}</td>'
            f"<td>{r.gpu_accepted:,} / {r.gpu_requests:,}</td>"
            + (_vgpu_cells(r) if vgpus else "")
            + f"<td>{r.ordinary_accepted:,} / {r.ordinary_requests:,} "
            f"({r.ordinary_acceptance:.1%})</td>"
            f"<td>{'-' if delta is None else f'{delta:+.1%}'}</td>"
            f"<td>{cpu_cost:.1%} / {ram_cost:.1%}</td>"
            f"<td>{r.held_idle_vcpus_mean:,.0f} / {r.held_idle_memory_mb_mean / 1024:,.0f}</td>"
            f"<td>{r.cpu_mean:.0%} / {r.ram_mean:.0%} / {r.gpu_mean:.0%}</td>"
            f"<td>{r.wall_seconds:.2f}</td>"
            "</tr>"
        )
        if kept:
            verdicts.append(
                f'<li><span class="ok">{esc(r.name)} keeps the promise</span>: ordinary VMs lose '
                f"{cpu_cost:.1%} of vCPUs and {ram_cost:.1%} of RAM</li>"
            )
        else:
            verdicts.append(
                f'<li><span class="bad">{esc(r.name)} breaks the promise</span>: '
                f"{r.gpu_refused_while_free:,} GPU VMs refused while a matching GPU was free</li>"
            )
    first = sim.results[0].series.times if sim.results else ()
    charts_util = []
    for r in sim.results:
        s = r.series
        lines = [("CPU", "#1f77b4", s.cpu), ("RAM", "#ff7f0e", s.ram), ("GPU", "#2ca02c", s.gpu)]
        if s.vgpu:
            lines.append(("vGPU", "#17becf", s.vgpu))
        charts_util.append(
            line_chart(f"{r.name}: share in use", s.times, lines, y_max=1.0, percent=True)
        )
    refused = line_chart(
        "GPU VMs refused while a GPU was free (cumulative)",
        first,
        [
            (r.name, _colour(r.name), list(accumulate(r.series.gpu_refused_while_free)))
            for r in sim.results
        ],
    )
    ordinary_refused = line_chart(
        "ordinary VMs refused (cumulative)",
        first,
        [
            (r.name, _colour(r.name), list(accumulate(r.series.ordinary_refused)))
            for r in sim.results
        ],
    )
    held = line_chart(
        "vCPUs held for GPU VMs and idle",
        first,
        [(r.name, _colour(r.name), r.series.held_idle_vcpus) for r in sim.results],
    )
    comparison = [
        bar_chart(
            "GPU VMs booted (share of asked)",
            [(r.name, _colour(r.name), r.gpu_acceptance) for r in sim.results],
        ),
        bar_chart(
            "ordinary VMs booted (share of asked)",
            [(r.name, _colour(r.name), r.ordinary_acceptance) for r in sim.results],
        ),
        bar_chart(
            "ordinary vCPUs out of reach, compared with none",
            [(r.name, _colour(r.name), sim.cost(r)[0]) for r in sim.results],
        ),
    ]
    breaks = "".join(
        f"<h3>{esc(r.name)}</h3><pre>{esc(chr(10).join(r.first_break))}</pre>"
        for r in sim.results
        if r.first_break
    )
    skipped = "".join(f"<li><b>{esc(s.name)}</b>: {esc(s.reason)}</li>" for s in sim.skipped)
    notes = "".join(f"<li>{esc(n)}</li>" for n in sim.workload_notes)
    vgpu_heads = (
        "<th>vGPU booted</th><th>vGPU refused while a card had them free</th>"
        "<th>vGPU refused, no single card (fragmentation)</th><th>vGPU slices</th>"
        if vgpus
        else ""
    )
    return f"""
<h1{' class="sub"' if sub else ""}>Will GPU VMs always boot? Strategies compared on \
{esc(sim.release)}</h1>
<p>Fleet <code>{esc(sim.fleet_source)}</code>, seed {sim.seed}. Workload:</p><ul>{notes}</ul>
<div class="verdict"><ul>{"".join(verdicts)}</ul></div>
<h2>Side by side</h2>
<div class="grid">{"".join(comparison)}</div>
<table><tr><th>strategy</th><th>planned promise</th><th>GPU refused while free</th>
<th>GPU booted</th>{vgpu_heads}<th>ordinary booted</th><th>vs none</th>
<th>ordinary capacity lost (CPU / RAM)</th><th>held idle (vCPU / GiB)</th>
<th>mean use (CPU / RAM / GPU)</th><th>seconds</th></tr>{"".join(rows)}</table>
<h2>Refusals over time</h2>
<div class="grid">{refused}{ordinary_refused}</div>
<h2>Utilisation over time</h2>
<div class="grid">{"".join(charts_util)}{held}</div>
{"<h2>Not simulated</h2><ul>" + skipped + "</ul>" if skipped else ""}
{"<h2>Where the promise broke first</h2>" + breaks if breaks else ""}
"""


def render_report(sims: Simulation | Sequence[Simulation], title: str = "") -> str:
    """The whole report as one HTML document: one section per simulation."""
    many = (sims,) if isinstance(sims, Simulation) else tuple(sims)
    if not many:
        raise InputError("nothing to report: no simulation")
    head = f"<h1>{html.escape(title)}</h1>" if title else ""
    sub = len(many) > 1 or bool(title)
    body = "<hr>".join(_section(sim, sub) for sim in many)
    page_title = title or f"gpuslice simulation: {many[0].release}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(page_title)}</title><style>{STYLE}</style></head><body>
{head}{body}
<p><small>Made by gpuslice simulate. Capacity lost: vCPUs and RAM that an ordinary flavor
can no longer reach, compared with strategy none. Held idle: capacity only GPU VMs may use,
minus what they use.</small></p>
</body></html>
"""


def write_report(
    sims: Simulation | Sequence[Simulation], out_dir: str | Path, title: str = ""
) -> Path:
    """Write `index.html` and `simulation.json` into `out_dir`; return the HTML's path."""
    many = (sims,) if isinstance(sims, Simulation) else tuple(sims)
    data: object = to_json(many[0]) if len(many) == 1 else [to_json(s) for s in many]
    return write_page(out_dir, render_report(many, title), "simulation.json", data)


def write_page(out_dir: str | Path, page: str, json_name: str, document: object) -> Path:
    """Write the HTML `page` as `index.html` and `document` as JSON named `json_name` into
    `out_dir` (made if missing); return the HTML's path. A file system error is an
    `InputError` naming the directory."""
    target = Path(out_dir)
    try:
        target.mkdir(parents=True, exist_ok=True)
        html_path = target / "index.html"
        html_path.write_text(page, encoding="utf-8")
        (target / json_name).write_text(
            json.dumps(document, indent=2, sort_keys=True), encoding="utf-8"
        )
    except OSError as error:
        raise InputError(f"cannot write the report: {error.strerror}", source=str(target)) from None
    return html_path
