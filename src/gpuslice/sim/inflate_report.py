"""The HTML report of an inflation experiment: curves over the arrived workload, no scripts.

`render_inflation_report(exp)` is pure; `write_inflation_report` writes `index.html` and
`simulation.json` (the `--json` document) into a directory.
"""

from __future__ import annotations

import html
from pathlib import Path

from gpuslice.sim.inflate import Inflation, inflation_to_json
from gpuslice.sim.report import STYLE, _colour, line_chart, write_page

X_LABEL = "arrived GPU demand, share of the cluster's GPUs"


def render_inflation_report(exp: Inflation) -> str:
    """The whole report: verdicts, the allocation, fragmentation and promise curves, a table."""
    esc = html.escape
    xs = exp.grid
    allocated = line_chart(
        "GPUs allocated (mean over seeds)",
        xs,
        [(r.name, _colour(r.name), [s.mean for s in r.curve("allocated")]) for r in exp.results],
        y_max=1.0,
        percent=True,
        x_label=X_LABEL,
    )
    stranded = line_chart(
        "GPUs free but stranded (no 1-GPU VM fits their host)",
        xs,
        [(r.name, _colour(r.name), [s.mean for s in r.curve("stranded")]) for r in exp.results],
        percent=True,
        x_label=X_LABEL,
    )
    broken = line_chart(
        "GPU VMs refused while a GPU was free (cumulative, mean)",
        xs,
        [(r.name, _colour(r.name), [s.mean for s in r.curve("broken")]) for r in exp.results],
        x_label=X_LABEL,
    )
    rows: list[str] = []
    verdicts: list[str] = []
    for r in exp.results:
        final = r.curve("allocated")[-1]
        at_full = r.curve("allocated")[min(range(len(xs)), key=lambda k: abs(xs[k] - 1.0))]
        failed = r.spread("failed")
        free = r.total("gpu_refused_while_free")
        rows.append(
            "<tr>"
            f'<td><span style="color:{_colour(r.name)}">■</span> {esc(r.name)}</td>'
            f"<td>{esc(r.promise)}</td>"
            f"<td>{at_full.mean:.1%} ± {at_full.sd:.1%}</td>"
            f"<td>{final.mean:.1%} ± {final.sd:.1%} ({final.low:.1%}–{final.high:.1%})</td>"
            f"<td>{r.curve('stranded')[-1].mean:.1%}</td>"
            f"<td>{failed.mean:,.0f} ± {failed.sd:,.0f}</td>"
            f'<td class="{"ok" if not free else "bad"}">{free:,}</td>'
            "</tr>"
        )
        if r.promise_kept:
            verdicts.append(f'<li><span class="ok">{esc(r.name)} keeps the promise</span></li>')
        else:
            first = min(x.first_break_arrived or 0.0 for x in r.runs if x.first_break)
            verdicts.append(
                f'<li><span class="bad">{esc(r.name)} breaks the promise</span> from '
                f"{first:.0%} of GPU capacity arrived ({free:,} refusals over all seeds)</li>"
            )
    notes = "".join(f"<li>{esc(n)}</li>" for n in exp.workload_notes)
    skipped = "".join(f"<li><b>{esc(s.name)}</b>: {esc(s.reason)}</li>" for s in exp.skipped)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>gpuslice inflation: {esc(exp.release)}</title><style>{STYLE}</style></head><body>
<h1>Inflated to {exp.spec.factor:.0%} of {exp.capacity:,} GPUs on {esc(exp.release)}</h1>
<p>Fleet <code>{esc(exp.fleet_source)}</code>, seeds {", ".join(map(str, exp.spec.seeds))}.
Workload:</p><ul>{notes}</ul>
<div class="verdict"><ul>{"".join(verdicts)}</ul></div>
<table><tr><th>strategy</th><th>planned promise</th><th>allocated at 100 % arrived</th>
<th>allocated at the end (range)</th><th>stranded at the end</th><th>failed requests</th>
<th>GPU refused while free</th></tr>{"".join(rows)}</table>
<div class="grid">{allocated}{stranded}{broken}</div>
{"<h2>Not simulated</h2><ul>" + skipped + "</ul>" if skipped else ""}
<p><small>Made by gpuslice simulate --inflate: requests shuffled per seed, trimmed or topped up
to the target, never leaving. Values are means over seeds; ± is the standard deviation.</small></p>
</body></html>
"""


def write_inflation_report(exp: Inflation, out_dir: str | Path) -> Path:
    """Write `index.html` and `simulation.json` into `out_dir`; return the HTML's path."""
    return write_page(
        out_dir, render_inflation_report(exp), "simulation.json", inflation_to_json(exp)
    )
