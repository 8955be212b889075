"""Rendering: golden files for the bright-lab example, INI that parses back, atomic writes."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml
from oslo_config import cfg

from gpuslice.fleetfile import load_fleet
from gpuslice.plan import make_plan
from gpuslice.plan.types import Option, Plan
from gpuslice.render import render_files, write_tree
from gpuslice.render.tree import RENDER_MARKER
from tests.conftest import BRIGHT_LAB, TEST_DATA
from tests.core.fleets import lab_fleet

GOLDEN = TEST_DATA / "golden"
EXAMPLES = {
    "bright-lab-newton-split": BRIGHT_LAB / "fleet.yaml",
    "bright-lab-2025.1-placement": BRIGHT_LAB / "fleet-2025.1.yaml",
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_bright_lab_renders_as_the_golden_files(name: str, tmp_path: Path) -> None:
    """Set GPUSLICE_UPDATE_GOLDEN=1 to rewrite the golden files after a deliberate change."""
    files = render_files(make_plan(load_fleet(EXAMPLES[name])))
    golden = GOLDEN / name
    if os.environ.get("GPUSLICE_UPDATE_GOLDEN"):
        shutil.rmtree(golden, ignore_errors=True)
        write_tree(make_plan(load_fleet(EXAMPLES[name])), golden)
    expected = {
        str(path.relative_to(golden)): path.read_text(encoding="utf-8")
        for path in sorted(golden.rglob("*"))
        if path.is_file() and path.name != RENDER_MARKER
    }
    assert sorted(files) == sorted(expected)
    for relative, text in files.items():
        assert text == expected[relative], relative


def parse_with_oslo(path: Path) -> dict[str, dict[str, list[str]]]:
    sections: dict[str, dict[str, list[str]]] = {}
    cfg.ConfigParser(str(path), sections).parse()
    return sections


def planned_values(plan: Plan, node: str, path: str) -> dict[tuple[str, str], list[str]]:
    values: dict[tuple[str, str], list[str]] = {}
    for option in plan.node(node).options:
        if option.path == path:
            value = option.value
            values[(option.section, option.name)] = (
                list(value) if isinstance(value, tuple) else [value]
            )
    return values


@pytest.mark.parametrize(
    ("number", "strategy"),
    [(14, "split"), (16, "weigher"), (20, "dedicated"), (31, "placement"), (34, "none")],
)
def test_rendered_ini_parses_back_with_oslo_config(
    number: int, strategy: str, tmp_path: Path
) -> None:
    plan = make_plan(lab_fleet(number), strategy)
    write_tree(plan, tmp_path / "out")
    for node in plan.nodes:
        for path in {o.path for o in node.options if not o.path.endswith(".service")}:
            parsed = parse_with_oslo(tmp_path / "out" / node.name / path)
            got = {(s, k): v for s, opts in parsed.items() for k, v in opts.items()}
            assert got == planned_values(plan, node.name, path), f"{node.name}/{path}"


def test_provider_yaml_and_cloud_objects_parse_back(tmp_path: Path) -> None:
    plan = make_plan(lab_fleet(31), "placement")
    write_tree(plan, tmp_path / "out")
    provider = yaml.safe_load(
        (tmp_path / "out/hyper18/etc/nova/provider_config/gpuslice.yaml").read_text()
    )
    assert provider["meta"] == {"schema_version": "1.0"}
    objects = json.loads((tmp_path / "out/cloud-objects.json").read_text())
    assert set(objects) >= {"resource_classes", "traits", "aggregates", "flavors"}
    (flavor,) = objects["flavors"]
    assert set(flavor) >= {"name", "vcpus", "ram", "disk", "is_public", "extra_specs"}
    (aggregate,) = objects["aggregates"]
    assert set(aggregate) >= {"name", "metadata", "hosts"}


def test_render_is_deterministic() -> None:
    fleet = lab_fleet(14, "split")
    assert render_files(make_plan(fleet)) == render_files(make_plan(fleet))


def test_every_rendered_option_is_explained() -> None:
    plan = make_plan(lab_fleet(14, "split"))
    text = render_files(plan)["hyper18/etc/nova/nova-gpu.conf"]
    assert "# the second service has a host name of its own" in text
    assert all(isinstance(o, Option) and o.rule for n in plan.nodes for o in n.options)


def test_write_tree_replaces_an_old_tree_whole(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_tree(make_plan(lab_fleet(14, "split")), out)
    assert (out / "hyper18/etc/nova/nova-gpu.conf").exists()
    write_tree(make_plan(lab_fleet(31, "placement")), out)
    assert not (out / "hyper18/etc/nova/nova-gpu.conf").exists()
    assert (out / "hyper18/etc/nova/provider_config/gpuslice.yaml").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
