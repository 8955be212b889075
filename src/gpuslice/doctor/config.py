"""Parse the boot and module configuration a snapshot holds: pure functions of text.

- The kernel command line (`proc/cmdline`): words, `key=value`, comma lists.
- modprobe.d (`options`, `softdep`, `blacklist`, `install`), as kmod reads it: `#` starts a
  comment line, a trailing backslash joins the next line, module names treat `-` and `_` alike.
- dracut (`add_drivers`, `force_drivers`) and initramfs-tools (`etc/initramfs-tools/modules`):
  the modules the initramfs loads early.

Every directive keeps where it came from (`file:line`) so a verdict can cite it.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

_DRACUT: Final = re.compile(r"^\s*(?P<key>add_drivers|force_drivers)\s*\+?=\s*(?P<value>.*)$")


def module_name(name: str) -> str:
    """The canonical module name: `vfio-pci` and `vfio_pci` are the same module."""
    return name.strip().replace("-", "_")


@dataclass(frozen=True)
class Cmdline:
    """The kernel command line as words."""

    words: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Cmdline:
        """Split `text` on white space (the kernel passes quoted values through unsplit)."""
        try:
            return cls(tuple(shlex.split(text)))
        except ValueError:
            return cls(tuple(text.split()))

    def value(self, key: str) -> str | None:
        """The value of the last `key=value` (the kernel lets the last one win), or None.

        A bare `key` gives the empty string.
        """
        found: str | None = None
        for word in self.words:
            name, sep, value = word.partition("=")
            if _same_key(name, key):
                found = value if sep else ""
        return found

    def lists(self, key: str, module: str) -> bool:
        """Whether the comma list of `key` (`modprobe.blacklist=a,b`) names `module`."""
        want = module_name(module)
        for word in self.words:
            name, sep, value = word.partition("=")
            if sep and _same_key(name, key) and want in {module_name(v) for v in value.split(",")}:
                return True
        return False

    def module_param(self, module: str, param: str) -> str | None:
        """The value of `module.param=` on the command line (`vfio-pci.ids=10de:1024`)."""
        return self.value(f"{module_name(module)}.{param}")


def _same_key(name: str, key: str) -> bool:
    if "." in key:  # module parameters: the module part treats - and _ alike
        module, _, param = key.partition(".")
        theirs, _, their_param = name.partition(".")
        return module_name(theirs) == module and their_param == param
    return name == key


@dataclass(frozen=True)
class Directive:
    """One modprobe.d command: its words after joining continued lines, and `file:line`."""

    words: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class ModprobeConfig:
    """The modprobe.d directives of a host, in the order kmod reads them."""

    directives: tuple[Directive, ...] = ()

    def _of(self, command: str, module: str) -> list[Directive]:
        want = module_name(module)
        return [
            d
            for d in self.directives
            if len(d.words) >= 2 and d.words[0] == command and module_name(d.words[1]) == want
        ]

    def options(self, module: str, key: str) -> list[tuple[str, str]]:
        """Every `options <module> key=value` value with its source, in reading order."""
        found: list[tuple[str, str]] = []
        for directive in self._of("options", module):
            for word in directive.words[2:]:
                name, sep, value = word.partition("=")
                if sep and name == key:
                    found.append((value, directive.source))
        return found

    def soft_pre(self, module: str, dependency: str) -> str | None:
        """The source of a `softdep <module> pre: ... <dependency>`, or None."""
        want = module_name(dependency)
        for directive in self._of("softdep", module):
            section = ""
            for word in directive.words[2:]:
                if word in ("pre:", "post:"):
                    section = word
                elif section == "pre:" and module_name(word) == want:
                    return directive.source
        return None

    def blocked(self, module: str) -> str | None:
        """The source of a `blacklist <module>` or `install <module> /bin/false|true`, or None.

        kmod's blacklist only stops loading by alias (the way udev loads drivers), which is
        what matters at boot.
        """
        for directive in self._of("blacklist", module):
            return directive.source
        for directive in self._of("install", module):
            if directive.words[2:3] and directive.words[2].endswith(("/false", "/true")):
                return directive.source
        return None


def parse_modprobe(files: Iterable[tuple[str, str]]) -> ModprobeConfig:
    """Parse modprobe.d files given as (name, text) pairs, in the order given."""
    directives: list[Directive] = []
    for name, text in files:
        directives.extend(_directives(name, text))
    return ModprobeConfig(tuple(directives))


def _directives(name: str, text: str) -> list[Directive]:
    found: list[Directive] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not pending:
            start = number
            if raw.lstrip().startswith("#"):
                continue
        line = raw.rstrip()
        if line.endswith("\\"):
            pending.append(line[:-1])
            continue
        pending.append(line)
        words = tuple(" ".join(pending).split())
        pending = []
        if words:
            found.append(Directive(words, f"{name}:{start}"))
    if pending and (words := tuple(" ".join(pending).split())):
        found.append(Directive(words, f"{name}:{start}"))
    return found


@dataclass(frozen=True)
class InitramfsConfig:
    """The initramfs tool a host uses (as far as its files show) and the modules it loads early.

    `tool` is `dracut`, `initramfs-tools` or None when the snapshot shows neither; `early`
    maps a canonical module name to the `file:line` that adds it.
    """

    tool: str | None = None
    early: tuple[tuple[str, str], ...] = ()

    def source_of(self, module: str) -> str | None:
        """Where `module` is added to the initramfs, or None."""
        want = module_name(module)
        return next((source for name, source in self.early if name == want), None)


def parse_dracut(files: Sequence[tuple[str, str]]) -> InitramfsConfig:
    """The modules dracut's `add_drivers`/`force_drivers` add, from (name, text) pairs."""
    early: list[tuple[str, str]] = []
    for name, text in files:
        for number, line in enumerate(text.splitlines(), start=1):
            match = _DRACUT.match(line)
            if match is None:
                continue
            value = match["value"].split("#", 1)[0].strip().strip("\"'")
            early.extend((module_name(m), f"{name}:{number}") for m in value.split())
    return InitramfsConfig("dracut", tuple(early))


def parse_initramfs_tools(name: str, text: str) -> InitramfsConfig:
    """The modules `etc/initramfs-tools/modules` lists (one per line, `#` comments)."""
    early: list[tuple[str, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split("#", 1)[0].split()
        if words:
            early.append((module_name(words[0]), f"{name}:{number}"))
    return InitramfsConfig("initramfs-tools", tuple(early))
