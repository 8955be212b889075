"""verify's NUMA readers of the guest XML, without nova."""

from __future__ import annotations

from gpuslice.fleet import Host
from gpuslice.twin.numa import memnodes, nodes_of_cpus

TWO_CELLS = (
    "<domain><numatune><memnode cellid='0' nodeset='0'/><memory nodeset='0,1'/>"
    "<memnode cellid='1' nodeset='1'/></numatune></domain>"
)


def test_memnodes_maps_each_guest_cell_to_its_host_nodes() -> None:
    assert memnodes(TWO_CELLS) == {0: frozenset({0}), 1: frozenset({1})}
    assert memnodes("<domain/>") == {}


def test_nodes_of_cpus_follows_the_fleets_interleaved_lists() -> None:
    host = Host(
        "h",
        tuple(range(16)),
        1024,
        10,
        cpu_numa=((0, (0, 1, 2, 3, 8, 9, 10, 11)), (1, (4, 5, 6, 7, 12, 13, 14, 15))),
    )
    assert nodes_of_cpus(host, {8, 9}) == frozenset({0})
    assert nodes_of_cpus(host, {11, 12}) == frozenset({0, 1})
    assert nodes_of_cpus(host, set()) == frozenset()
