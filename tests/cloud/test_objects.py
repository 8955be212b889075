"""What apply reads: cloud-objects.json as `gpuslice render` writes it, or a fleet file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gpuslice.cloud.objects import load_desired, parse_cloud_objects
from gpuslice.errors import InputError
from gpuslice.fleetfile import load_fleet
from gpuslice.plan import make_plan
from gpuslice.render.cloud import render_cloud_objects

BRIGHT_LAB = Path(__file__).resolve().parents[2] / "examples" / "bright-lab"


@pytest.mark.parametrize("fleet", ["fleet.yaml", "fleet-2025.1.yaml"])
def test_rendered_cloud_objects_read_back_as_the_plan_made_them(fleet: str, tmp_path: Path) -> None:
    plan = make_plan(load_fleet(BRIGHT_LAB / fleet))
    rendered = tmp_path / "cloud-objects.json"
    rendered.write_text(render_cloud_objects(plan.cloud))
    assert load_desired(rendered).cloud == plan.cloud


def test_a_fleet_file_is_planned_with_its_providers() -> None:
    desired = load_desired(BRIGHT_LAB / "fleet-2025.1.yaml")
    assert [a.name for a in desired.cloud.aggregates] == ["gpu"]
    assert {p.name for p in desired.providers} == {"hyper18", "hyper16", "hyper20"}


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ([], "must be a JSON object"),
        ({"flavours": []}, "flavours (did you mean flavors?)"),
        ({"flavors": [{"name": "g", "vcpus": -1, "ram": 1, "disk": 1}]}, "flavors[0].vcpus"),
        ({"aggregates": [{"name": "a", "hosts": "h1"}]}, "aggregates[0].hosts"),
        ({"traits": "CUSTOM_X"}, "traits: must be a list of strings"),
        ({"traits": ["CUSTOM_gpu-bad"]}, "'CUSTOM_gpu-bad' is not a name Placement accepts"),
        ({"resource_classes": ["GPU_VCPU"]}, "resource_classes: 'GPU_VCPU' is not a name"),
        ({"provider_traits": {"h1": ["compute_x"]}}, "provider_traits.h1: 'compute_x'"),
    ],
)
def test_bad_cloud_objects_name_the_field(data: object, where: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_cloud_objects(data, "objects.json")
    assert where in str(caught.value)
    assert str(caught.value).startswith("objects.json")


def test_unreadable_and_malformed_files_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        load_desired(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"traits": [\n')
    with pytest.raises(InputError, match="not JSON"):
        load_desired(broken)
    ok = tmp_path / "ok.json"
    ok.write_text(json.dumps({"traits": ["CUSTOM_GPU_HOST"]}))
    assert load_desired(ok).cloud.traits == ("CUSTOM_GPU_HOST",)
