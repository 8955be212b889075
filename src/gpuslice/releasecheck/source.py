"""nova's own source for every release on the package index: fetched once, cached, read in place.

The last version of each nova major on PyPI is downloaded (`pip download --no-deps`) into a
cache directory and read straight from the wheel; nothing is installed or imported.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Final

from gpuslice.errors import GpusliceError

# The last version of each nova major on PyPI (Newton, 14, is not there).
NOVA_VERSIONS: Final[dict[int, str]] = {
    15: "15.1.5",
    16: "16.1.8",
    17: "17.0.13",
    18: "18.3.0",
    19: "19.3.2",
    20: "20.6.1",
    21: "21.2.4",
    22: "22.4.0",
    23: "23.2.2",
    24: "24.2.1",
    25: "25.3.0",
    26: "26.3.0",
    27: "27.5.1",
    28: "28.3.1",
    29: "29.4.0",
    30: "30.3.0",
    31: "31.3.1",
    32: "32.2.1",
    33: "33.0.2",
    34: "34.0.0",
}
# The parts of nova the checks read.
SOURCE_PARTS: Final = (
    "nova/conf/",
    "nova/compute/provider_config.py",
    "nova/api/validation/extra_specs/",
    "nova/scheduler/filters/",
    "nova/pci/request.py",
    "nova/pci/devspec.py",
    "nova/objects/fields.py",
)


def cache_dir() -> Path:
    """Where wheels are kept: $GPUSLICE_RELEASES_CACHE, else ~/.cache/gpuslice-releases."""
    given = os.environ.get("GPUSLICE_RELEASES_CACHE")
    return Path(given) if given else Path.home() / ".cache" / "gpuslice-releases"


def wheel_path(version: str, cache: Path) -> Path | None:
    """The cached wheel of nova `version`, if there is one."""
    found = sorted(cache.glob(f"nova-{version}-*.whl"))
    return found[0] if found else None


def fetch(version: str, cache: Path) -> Path:
    """The wheel of nova `version`, downloaded into `cache` unless it is there already."""
    cached = wheel_path(version, cache)
    if cached is not None:
        return cached
    cache.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--no-deps",
        "--only-binary=:all:",
        "--dest",
        str(cache),
        f"nova=={version}",
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    cached = wheel_path(version, cache)
    if result.returncode != 0 or cached is None:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no wheel"]
        msg = f"cannot download nova {version}: {tail[0]}"
        raise GpusliceError(msg)
    return cached


def read_sources(wheel: Path) -> dict[str, str]:
    """The Python files of the parts the checks read, path -> text, from `wheel`."""
    with zipfile.ZipFile(wheel) as archive:
        return {
            name: archive.read(name).decode("utf-8")
            for name in archive.namelist()
            if name.endswith(".py") and name.startswith(SOURCE_PARTS)
        }
