"""Find nova's api-paste.ini: nova's API needs it; pip puts it where nova's harness does not look.

nova's wheel installs `etc/nova/api-paste.ini` below the environment's data prefix (the venv
itself: `<venv>/etc/nova/`), while nova's test configuration looks below its `state_path`
(`site-packages/etc/nova/`). verify points `[wsgi] api_paste_config` at the first candidate that
exists, so `pip install 'gpuslice[nova]'` alone is enough. Pure but for checking that files exist.
"""

from __future__ import annotations

import sys
import sysconfig
from collections.abc import Sequence
from pathlib import Path

from gpuslice.errors import ServiceUnreachableError

RELATIVE = Path("etc", "nova", "api-paste.ini")


def candidates(configured: str) -> tuple[Path, ...]:
    """Where to look, in order: nova's configured path, then below the install prefixes."""
    found = [Path(configured)] if configured else []
    for prefix in (sysconfig.get_paths()["data"], sys.prefix, sys.base_prefix):
        path = Path(prefix) / RELATIVE
        if path not in found:
            found.append(path)
    return tuple(found)


def find_api_paste(paths: Sequence[Path]) -> Path:
    """The first of `paths` that is a file.

    Raises ServiceUnreachableError (exit 3) naming every place looked at and what to do.
    """
    for path in paths:
        if path.is_absolute() and path.is_file():
            return path
    looked = ", ".join(str(p) for p in paths)
    msg = (
        f"nova's api-paste.ini is in none of: {looked}. It comes with nova's wheel "
        "(<venv>/etc/nova/api-paste.ini); reinstall nova into this environment "
        "(`pip install --force-reinstall --no-deps nova==34.0.0`) or copy the file to "
        f"{paths[0] if paths else RELATIVE}"
    )
    raise ServiceUnreachableError(msg)
