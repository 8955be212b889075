"""The synthetic generator: sizes, shares, load, files."""

from __future__ import annotations

import pytest

from gpuslice.errors import InputError
from gpuslice.sim.workload import SyntheticSpec, generate, parse_mix, spec_from_mapping


def test_generator_draws_the_asked_mix_and_share() -> None:
    spec = SyntheticSpec(requests=4000, gpu_share=0.25, mix=parse_mix("2x4096x40:1,8x16384x80:1"))
    workload = generate(spec, vcpus=1000, seed=1)
    assert len(workload.requests) == 4000
    share = workload.gpu_requests / 4000
    assert 0.2 < share < 0.3
    sizes = {(r.vcpus, r.memory_mb, r.disk_gb) for r in workload.requests if not r.is_gpu}
    assert sizes == {(2, 4096, 40), (8, 16384, 80)}
    arrivals = [r.arrival for r in workload.requests]
    assert arrivals == sorted(arrivals)


def test_higher_load_means_denser_arrivals() -> None:
    low = generate(SyntheticSpec(requests=2000, load=0.5), vcpus=1000, seed=2)
    high = generate(SyntheticSpec(requests=2000, load=2.0), vcpus=1000, seed=2)
    assert high.requests[-1].arrival < low.requests[-1].arrival


def test_lifetime_distributions_keep_their_mean() -> None:
    for dist in ("exponential", "lognormal", "fixed"):
        spec = SyntheticSpec(requests=20000, lifetime_mean=100.0, lifetime_dist=dist)  # type: ignore[arg-type]
        lifetimes = [r.lifetime or 0.0 for r in generate(spec, vcpus=100, seed=3).requests]
        assert sum(lifetimes) / len(lifetimes) == pytest.approx(100.0, rel=0.1)


def test_bad_parameters_are_input_errors() -> None:
    with pytest.raises(InputError, match="gpu share"):
        SyntheticSpec(gpu_share=1.5)
    with pytest.raises(InputError, match="VCPUSxMEMORY_MBxDISK_GB"):
        parse_mix("2x4096")
    with pytest.raises(InputError, match="did you mean 'gpu_share'"):
        spec_from_mapping({"gpu_shar": 0.1})
    assert spec_from_mapping({"requests": 10, "mix": "1x1024x10"}).mix[0].vcpus == 1
