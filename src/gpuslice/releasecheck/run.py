"""The release check as a command: fetch, check every release, print failures and a total."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

from gpuslice.errors import GpusliceError
from gpuslice.releasecheck.extra_specs import load_validator
from gpuslice.releasecheck.matrix import Check, ReleaseSource, check_release, filter_classes
from gpuslice.releasecheck.options import registered_options
from gpuslice.releasecheck.pci import alias_schema, device_spec_tags
from gpuslice.releasecheck.schema import provider_schema
from gpuslice.releasecheck.source import NOVA_VERSIONS, cache_dir, fetch, read_sources
from gpuslice.releases import Release


def load_release(number: int, cache: Path) -> ReleaseSource:
    """Everything the checks read from nova `number`'s wheel (downloaded once into `cache`)."""
    version = NOVA_VERSIONS[number]
    sources = read_sources(fetch(version, cache))
    return ReleaseSource(
        release=Release(number),
        version=version,
        registry=registered_options(sources),
        schema=provider_schema(sources),
        validate=load_validator(sources),
        filters=filter_classes(sources),
        alias=alias_schema(sources),
        spec_tags=device_spec_tags(sources),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Check the given release numbers (default: all of 15..34). Prints each failure and ends
    with one line, "N passed, N failed"; returns 1 when any check failed."""
    args = list(sys.argv[1:] if argv is None else argv)
    numbers = [int(a) for a in args] if args else sorted(NOVA_VERSIONS)
    cache = cache_dir()
    started = time.monotonic()
    passed = failed = 0
    for number in numbers:
        try:
            source = load_release(number, cache)
        except GpusliceError as error:
            print(f"FAIL {number}: {error}")
            failed += 1
            continue
        checks, refused = check_release(source)
        bad: list[Check] = [c for c in checks if not c.ok]
        for check in bad:
            print(f"FAIL {check.case}: {check.subject}: {check.problem}")
        passed += len(checks) - len(bad)
        failed += len(bad)
        print(
            f"nova {source.version} ({source.release.name}): {len(checks) - len(bad)} passed, "
            f"{len(bad)} failed, {refused} combinations refused by gpuslice"
        )
    print(f"({time.monotonic() - started:.1f} s, wheels in {cache})")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or not passed else 0
