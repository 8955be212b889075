"""--collect writes only the small files the checks read; the copy judges like the original."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

from gpuslice.doctor import collect, doctor_root
from gpuslice.doctor.reader import read_text
from gpuslice.errors import InputError
from gpuslice.inputs import Kind
from tests.doctor.helpers import SNAPSHOTS, copy_snapshot


def _verdicts(root: Path) -> list[tuple[str, str, str | None, str]]:
    report = doctor_root(root, host="h")
    return [(f.check, f.status, f.subject, f.message) for f in report.findings]


@pytest.mark.parametrize("name", ["ready", "nouveau-bound", "vgpu-ready", "vfio-variant-ready"])
def test_a_collected_directory_and_tarball_judge_like_the_source(tmp_path: Path, name: str) -> None:
    source = SNAPSHOTS / name
    as_dir = tmp_path / "copy"
    as_tar = tmp_path / "copy.tar.gz"
    assert collect(source, as_dir) > 0
    collect(source, as_tar)
    assert _verdicts(as_dir) == _verdicts(source)
    assert _verdicts(as_tar) == _verdicts(source)


def test_the_tarball_holds_only_paths_below_its_root(tmp_path: Path) -> None:
    target = tmp_path / "s.tgz"
    collect(SNAPSHOTS / "ready", target)
    with tarfile.open(target) as tar:
        names = tar.getnames()
        links = [m for m in tar.getmembers() if m.issym()]
    assert "proc/cmdline" in names
    assert "sys/bus/pci/devices/0000:86:00.0/vendor" in names
    assert "sys/kernel/iommu_groups/40/devices/0000:86:00.0" in names
    assert "etc/modprobe.d/vfio.conf" in names
    assert not any(n.startswith(("/", "..")) for n in names)
    assert all(not m.linkname.startswith("/") for m in links)


def test_collect_refuses_an_existing_target_and_leaves_nothing_on_error(tmp_path: Path) -> None:
    existing = tmp_path / "there"
    existing.mkdir()
    with pytest.raises(InputError, match="exists already"):
        collect(SNAPSHOTS / "ready", existing)
    source = copy_snapshot("ready", tmp_path)
    (source / "proc/cmdline").write_bytes(b"ro quiet \xff\n")
    with pytest.raises(InputError, match="byte offset 9"):
        collect(source, tmp_path / "new")
    assert not (tmp_path / "new").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_the_bounded_reader_caps_size_and_names_the_offset(tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_bytes(b"x" * 101)
    with pytest.raises(InputError, match="at most 100 bytes") as error:
        read_text(big, kind=Kind("snapshot file", 100))
    assert str(big) in str(error.value)
    assert read_text(tmp_path / "absent") is None
    bad = tmp_path / "bad"
    bad.write_bytes("é".encode() + b"\xc3(")
    with pytest.raises(InputError, match=r"byte 0xc3 at byte offset 2"):
        read_text(bad)


def test_a_tarball_that_escapes_its_root_is_refused(tmp_path: Path) -> None:
    evil = tmp_path / "evil.tar.gz"
    payload = tmp_path / "payload"
    payload.write_text("x", encoding="utf-8")
    with tarfile.open(evil, "w:gz") as tar:
        tar.add(payload, arcname="../outside")
    with pytest.raises(InputError, match="not a readable snapshot tarball"):
        doctor_root(evil)
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"not a tarball")
    with pytest.raises(InputError, match=r"garbage\.tar\.gz"):
        doctor_root(garbage)


def test_a_pipe_where_a_file_belongs_is_refused_not_waited_on(tmp_path: Path) -> None:
    root = copy_snapshot("ready", tmp_path)
    (root / "proc/cmdline").unlink()
    os.mkfifo(root / "proc/cmdline")
    with pytest.raises(InputError, match="not a regular file"):
        doctor_root(root)


def test_a_pipe_among_the_pci_attributes_is_refused(tmp_path: Path) -> None:
    root = copy_snapshot("ready", tmp_path)
    vendor = root / "sys/bus/pci/devices/0000:86:00.0/vendor"
    vendor.unlink()
    os.mkfifo(vendor)
    with pytest.raises(InputError, match="not a regular file"):
        doctor_root(root)


def test_collect_keeps_the_count_of_virtual_functions_made(tmp_path: Path) -> None:
    target = tmp_path / "copy"
    collect(SNAPSHOTS / "vgpu-ready", target)
    assert read_text(target / "sys/bus/pci/devices/0000:86:00.0/sriov_numvfs") == "4\n"
