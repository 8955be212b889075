"""A Bright Cluster Manager cmsh session that makes the same settings as the render tree.

Hypervisor and controller options go into configuration-overlay customizations (one overlay per
node, so that each host's CPU set and reserve stay its own); whole files gpuslice owns
(nova-gpu.conf's unit, provider.yaml, modprobe options) are copied from the render tree; the
split strategy's second nova-compute becomes a managed service of its node.
"""

from __future__ import annotations

from gpuslice.plan.types import GPU_UNIT, NodePlan, Plan
from gpuslice.render.ini import option_lines

OVERLAY_PRIORITY = 600


def render_cmsh(plan: Plan) -> str:
    """The cmsh session text for `plan`, one block per node, committed per overlay."""
    lines = [
        f"# gpuslice: strategy {plan.strategy} on {plan.release}.",
        "# Feed to cmsh on the head node: cmsh -f gpuslice.cmsh",
        "# Whole files (units, provider.yaml, modprobe options) come from `gpuslice render --out`;",
        "# copy them to the nodes' software image or through the overlay's file customizations.",
    ]
    for node in plan.nodes:
        lines.extend(_node_block(node))
    if plan.strategy == "split":
        for node in plan.nodes:
            if any(o.path == GPU_UNIT for o in node.options):
                lines.extend(_service_block(node.name))
    return "\n".join(lines) + "\n"


def _node_block(node: NodePlan) -> list[str]:
    overlay = f"gpuslice-{node.name}"
    lines = [
        "",
        f"# {node.name} ({node.role})",
        "configurationoverlay",
        f"add {overlay}",
        f"set nodes {node.name}",
        f"set priority {OVERLAY_PRIORITY}",
        "customizations",
    ]
    for path in sorted({o.path for o in node.options if not o.path.endswith(".service")}):
        lines.append(f"add /{path}")
        lines.append("entries")
        for option in (o for o in node.options if o.path == path):
            for value_line in option_lines(option, "="):
                key, value = value_line.split("=", 1)
                lines.append(f"add [{option.section}]{key} '{value}'")
        lines.append("exit")
        lines.append("exit")
    lines.append("commit")
    lines.append("exit")
    lines.append("exit")
    return lines


def _service_block(node: str) -> list[str]:
    service = GPU_UNIT.rsplit("/", 1)[1].removesuffix(".service")
    return [
        "",
        f"# {node}: the GPU nova-compute service, started and monitored by the cluster manager",
        f"device use {node}",
        "services",
        f"add {service}",
        "set autostart yes",
        "set monitored yes",
        "commit",
        "exit",
        "exit",
    ]
