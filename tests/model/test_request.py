"""Request specs from flavors: nova's reading of flavor fields and extra specs."""

from __future__ import annotations

import pytest

from gpuslice.errors import InputError
from gpuslice.model import request_from_flavor, scale_request
from tests.model.builders import flavor


def test_plain_flavor_asks_vcpu_memory_disk() -> None:
    spec = request_from_flavor(flavor("m1", 2, 4096, 20))
    assert dict(spec.resources) == {"VCPU": 2, "MEMORY_MB": 4096, "DISK_GB": 20}
    assert not spec.is_gpu


def test_zero_override_removes_the_class_and_custom_classes_are_added() -> None:
    f = flavor(
        "g1.gpu",
        2,
        4096,
        40,
        resources__VCPU="0",
        resources__MEMORY_MB="0",
        resources__CUSTOM_GPU_VCPU="2",
        pci_passthrough__alias="gpu:1",
    )
    spec = request_from_flavor(f)
    assert dict(spec.resources) == {"DISK_GB": 40, "CUSTOM_GPU_VCPU": 2}
    assert spec.pci == (("gpu", 1),)
    # the flavor's own sizes are still what the host's resource tracker counts
    assert (spec.vcpus, spec.ram) == (2, 4096)


def test_overrides_are_ignored_before_pike() -> None:
    f = flavor("g", 2, 4096, 40, resources__VCPU="0")
    assert request_from_flavor(f, overrides=False).amount("VCPU") == 2
    assert request_from_flavor(f, overrides=True).amount("VCPU") == 0


def test_dedicated_cpu_policy_asks_pcpu() -> None:
    spec = request_from_flavor(flavor("d", 4, 1024, 10, hw__cpu_policy="dedicated"))
    assert spec.amount("PCPU") == 4
    assert spec.amount("VCPU") == 0


def test_traits_and_aggregate_keys() -> None:
    f = flavor(
        "x",
        trait__CUSTOM_GPU_HOST="required",
        trait__CUSTOM_SLOW="forbidden",
        aggregate_instance_extra_specs__gpu="true",
        ssd="true",
        hw__mem_page_size="large",
    )
    spec = request_from_flavor(f)
    assert spec.required_traits == {"CUSTOM_GPU_HOST"}
    assert spec.forbidden_traits == {"CUSTOM_SLOW"}
    # hw: is scoped (ignored by AggregateInstanceExtraSpecsFilter); ssd is unscoped
    assert dict(spec.aggregate_specs) == {"gpu": "true", "ssd": "true"}


@pytest.mark.parametrize(
    "specs",
    [{"resources:VCPU": "two"}, {"resources:VCPU": "-1"}, {"trait:X": "preferred"}],
)
def test_bad_extra_specs_are_input_errors(specs: dict[str, str]) -> None:
    f = flavor("bad")
    f = type(f)(f.name, f.vcpus, f.ram, f.disk, True, specs)
    with pytest.raises(InputError, match="flavor bad"):
        request_from_flavor(f)


def test_scale_multiplies_amounts_and_devices() -> None:
    f = flavor("g", 2, 4096, 40, resources__CUSTOM_GPU_VCPU="2", pci_passthrough__alias="gpu:1")
    spec = scale_request(request_from_flavor(f), 3)
    assert spec.amount("CUSTOM_GPU_VCPU") == 6
    assert spec.gpus == 3
    assert spec.vcpus == 6
    with pytest.raises(InputError):
        scale_request(spec, 0)


def test_lenient_reading_skips_what_nova_skips() -> None:
    """A live cloud's odd flavor is read as nova reads it: the malformed key is skipped."""
    f = flavor("odd", 2, 1024, 10)
    f = type(f)(
        f.name, 2, 1024, 10, True, {"resources:VCPU": "two", "trait:X": "preferred", "ok": "1"}
    )
    spec = request_from_flavor(f, strict=False)
    assert dict(spec.resources) == {"VCPU": 2, "MEMORY_MB": 1024, "DISK_GB": 10}
    assert spec.required_traits == frozenset()


def test_groups_keep_their_traits_and_scale_with_the_request() -> None:
    f = flavor(
        "v",
        4,
        8192,
        40,
        resources__VCPU="0",
        resources1__VGPU="1",
        trait1__CUSTOM_CARD="required",
        group_policy="none",
    )
    spec = request_from_flavor(f)
    card = spec.group("1")
    assert card is not None
    assert card.resources == (("VGPU", 1),)
    assert card.required_traits == {"CUSTOM_CARD"}
    assert spec.required_traits == {"CUSTOM_CARD"}
    assert spec.group_policy == "none"
    double = scale_request(spec, 2).group("1")
    assert double is not None
    assert double.resources == (("VGPU", 2),)


def test_numbered_groups_are_kept_apart_and_add_to_the_flat_request() -> None:
    f = flavor(
        "v2",
        8,
        32768,
        40,
        resources__VCPU="0",
        resources__CUSTOM_GPU_VCPU="2",
        resources1__VGPU="2",
        resources1__CUSTOM_GPU_VCPU="8",
        trait1__CUSTOM_VGPU_A10="required",
        trait__CUSTOM_GPU_HOST="required",
    )
    spec = request_from_flavor(f)
    unnumbered, one = spec.groups
    assert unnumbered.suffix == ""
    assert one.suffix == "1"
    assert spec.numbered == (one,)
    assert dict(one.resources) == {"VGPU": 2, "CUSTOM_GPU_VCPU": 8}
    assert one.required_traits == {"CUSTOM_VGPU_A10"}
    assert unnumbered.required_traits == {"CUSTOM_GPU_HOST"}
    # what the tree gives in all: the same class in two groups adds up
    assert spec.amount("CUSTOM_GPU_VCPU") == 10
    assert spec.required_traits == {"CUSTOM_GPU_HOST", "CUSTOM_VGPU_A10"}
    assert dict(scale_request(spec, 2).groups[1].resources) == {"VGPU": 4, "CUSTOM_GPU_VCPU": 16}


def test_repeat_groups_asks_the_numbered_group_once_per_unit_as_rendered_for_vfs() -> None:
    from gpuslice.model.request import repeat_groups

    one = flavor(
        "v1",
        4,
        16384,
        40,
        resources__VCPU="0",
        resources__CUSTOM_GPU_DISK_GB="40",
        resources1__VGPU="1",
        resources1__CUSTOM_VGPU_VCPU="4",
        trait1__CUSTOM_VGPU_A10="required",
    )
    three = repeat_groups(request_from_flavor(one), 3)
    rendered = flavor(
        "v1",
        12,
        49152,
        120,
        resources__VCPU="0",
        resources__CUSTOM_GPU_DISK_GB="120",
        group_policy="isolate",
        **{
            f"{key}{g}__{name}": value
            for g in (1, 2, 3)
            for key, name, value in (
                ("resources", "VGPU", "1"),
                ("resources", "CUSTOM_VGPU_VCPU", "4"),
                ("trait", "CUSTOM_VGPU_A10", "required"),
            )
        },
    )
    assert three == request_from_flavor(rendered)
    with pytest.raises(InputError, match="at least 1"):
        repeat_groups(three, 0)
