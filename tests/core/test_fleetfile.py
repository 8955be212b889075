"""Fleet files: errors name file, line and field, and say what to do."""

from __future__ import annotations

from gpuslice.fleetfile import load_fleet
from gpuslice.plan import make_plan
from tests.conftest import Writer, error_of

GOOD = """\
release: "2025.1"
strategy: placement
slice: {vcpus: 2, memory_mb: 4096, disk_gb: 40}
controllers: [ctl1]
hosts:
  - name: hyper18
    cpus: "0-23"
    memory_mb: 131072
    disk_gb: 2000
    gpus:
      - {address: "86:00.0", vendor_id: "10DE", product_id: "1024"}
"""


def test_good_fleet_loads_with_normalised_ids(write_fleet: Writer) -> None:
    fleet = load_fleet(write_fleet(GOOD))
    (gpu,) = fleet.hosts[0].gpus
    assert (gpu.address, gpu.vendor_id, gpu.product_id) == ("0000:86:00.0", "10de", "1024")
    assert fleet.hosts[0].cpus == tuple(range(24))
    assert fleet.release.number == 31
    (model,) = fleet.models
    assert (model.alias, model.flavor) == ("gpu", "g1.gpu")


def test_unknown_key_gets_did_you_mean_and_line(write_fleet: Writer) -> None:
    error = error_of(write_fleet, GOOD.replace("    memory_mb: 131072", "    memory_gb: 128"))
    assert error.line == 8
    assert error.field == "hosts.0.memory_gb"
    assert "did you mean 'memory_mb'" in str(error)


def test_unknown_top_level_key(write_fleet: Writer) -> None:
    error = error_of(write_fleet, GOOD + "strategi: split\n")
    assert error.line == 12
    assert "did you mean 'strategy'" in str(error)


def test_missing_key_names_the_field(write_fleet: Writer) -> None:
    error = error_of(write_fleet, GOOD.replace("    disk_gb: 2000\n", ""))
    assert error.field == "hosts.0.disk_gb"
    assert "required" in str(error)


def test_malformed_yaml_names_the_line(write_fleet: Writer) -> None:
    error = error_of(write_fleet, GOOD.replace("controllers: [ctl1]", "controllers: [ctl1"))
    assert error.line is not None
    assert "not valid YAML" in str(error)


def test_unknown_release(write_fleet: Writer) -> None:
    error = error_of(write_fleet, GOOD.replace('"2025.1"', "mitaka"))
    assert (error.line, error.field) == (1, "release")


def test_unknown_strategy_with_hint(write_fleet: Writer) -> None:
    error = error_of(write_fleet, GOOD.replace("strategy: placement", "strategy: placment"))
    assert error.line == 2
    assert "did you mean 'placement'" in str(error)


def test_impossible_slice_names_the_host(write_fleet: Writer) -> None:
    error = error_of(write_fleet, GOOD.replace("memory_mb: 4096", "memory_mb: 200000"))
    assert "hyper18" in str(error)
    assert "memory_mb" in str(error)


def test_slice_taking_every_cpu_is_refused(write_fleet: Writer) -> None:
    error = error_of(write_fleet, GOOD.replace("vcpus: 2", "vcpus: 24"))
    assert "every CPU" in str(error)


def test_gpu_listed_twice(write_fleet: Writer) -> None:
    twice = GOOD + '      - {address: "0000:86:00.0", vendor_id: "10de", product_id: "1024"}\n'
    error = error_of(write_fleet, twice)
    assert "listed twice" in str(error)
    assert error.line == 10


def test_bad_pci_address(write_fleet: Writer) -> None:
    error = error_of(write_fleet, GOOD.replace('"86:00.0"', '"86-00"'))
    assert error.field == "hosts.0.gpus.0.address"
    assert "not a PCI address" in str(error)


def test_duplicate_host(write_fleet: Writer) -> None:
    host = GOOD[GOOD.index("  - name: hyper18") :]
    error = error_of(write_fleet, GOOD + host)
    assert "listed twice" in str(error)


def test_gpu_service_host_must_be_a_new_name(write_fleet: Writer) -> None:
    text = (
        GOOD.replace('release: "2025.1"', "release: newton").replace(
            "strategy: placement", "strategy: split"
        )
        + "    gpu_service_host: ctl1\n"
    )
    error = error_of(write_fleet, text)
    assert "gpu_service_host" in str(error)


def test_duplicate_yaml_key(write_fleet: Writer) -> None:
    error = error_of(write_fleet, GOOD + "release: newton\n")
    assert error.line == 12
    assert "given twice" in str(error)


def test_missing_lspci_capture_names_the_field(write_fleet: Writer) -> None:
    text = GOOD.replace(
        '    gpus:\n      - {address: "86:00.0", vendor_id: "10DE", product_id: "1024"}\n',
        "    lspci: nowhere.txt\n",
    )
    error = error_of(write_fleet, text)
    assert error.field == "hosts.0.lspci"
    assert "relative to the fleet file" in str(error)


def test_numa_must_cover_the_cpus(write_fleet: Writer) -> None:
    error = error_of(write_fleet, GOOD + '    numa: {0: "0-11"}\n')
    assert error.field == "hosts.0.numa"


def test_gpu_models_name_alias_slice_and_flavor(write_fleet: Writer) -> None:
    text = (
        GOOD
        + """\
gpu_models:
  - {vendor_id: "10de", product_id: "1024", alias: k40c, flavor: g1.k40c,
     slice: {vcpus: 4, memory_mb: 8192, disk_gb: 80}}
"""
    )
    plan = make_plan(load_fleet(write_fleet(text)))
    (flavor,) = plan.cloud.flavors
    assert (flavor.name, flavor.vcpus, flavor.ram) == ("g1.k40c", 4, 8192)
    assert flavor.extra_specs["pci_passthrough:alias"] == "k40c:1"


def test_a_gpu_without_a_model_entry_is_refused(write_fleet: Writer) -> None:
    text = (
        GOOD
        + """\
gpu_models:
  - {vendor_id: "10de", product_id: "20b0", alias: a100}
"""
    )
    error = error_of(write_fleet, text)
    assert "matches no entry of gpu_models" in str(error)


def test_two_models_on_one_host_each_get_alias_and_flavor(write_fleet: Writer) -> None:
    text = GOOD + '      - {address: "87:00.0", vendor_id: "10de", product_id: "20b0"}\n'
    plan = make_plan(load_fleet(write_fleet(text)))
    assert [a.name for a in plan.aliases] == ["gpu", "gpu-20b0"]
    assert [f.name for f in plan.cloud.flavors] == ["g1.gpu", "g1.gpu-20b0"]
    custom = plan.hosts[0].providers[0].inventories["CUSTOM_GPU_VCPU"]
    assert custom.total == 4
