"""The output side of issue 11: what is printed is safe, and printing scales."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gpuslice.cli.common import redact, safe_text, strip_control
from gpuslice.cli.plan import plain_table
from gpuslice.jsonout import dumps_indented

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(alphabet=st.characters(codec="utf-8"), max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(JSON)
def test_dumps_indented_is_the_standard_encoder(data: Any) -> None:
    assert dumps_indented(data) == json.dumps(data, indent=2, sort_keys=True)


def test_redaction_rules() -> None:
    assert redact("https://admin:s3cret@keystone:5000/v3") == "https://***@keystone:5000/v3"
    assert redact('{"password": "s3cret", "token": "t"}') == '{"password": "***", "token": "***"}'
    assert redact("OS_PASSWORD=s3cret api_key: k") == "OS_PASSWORD=*** api_key: ***"
    assert redact("tokens: 5, token_endpoint=x") == "tokens: 5, token_endpoint=x"


def test_control_characters_are_stripped_but_lines_kept() -> None:
    assert strip_control("a\x1b[2J\tb\nc\x07\u202ed\x9b") == "a[2J\tb\ncd"
    assert safe_text("plain text\n") == "plain text\n"


def test_plain_table_aligns_columns() -> None:
    text = plain_table("T", ("a", "bb"), [("xxx", "1\n2"), ("y", "3")])
    assert text.splitlines() == ["T", "a    bb", "---  ----", "xxx  1; 2", "y    3"]


def test_a_large_fleet_prints_alike_nodes_once(tmp_path: Any, capsys: Any) -> None:
    from gpuslice.cli import main

    hosts = "".join(
        f"  - {{name: h{i:03d}, cpus: 8, memory_mb: 65536, disk_gb: 100, gpus: "
        f'[{{address: "0000:86:00.0", vendor_id: "10de", product_id: "1024"}}]}}\n'
        for i in range(201)
    )
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(
        'release: "2025.1"\nstrategy: placement\nslice: {vcpus: 2, memory_mb: 4096}\n'
        "controllers: [ctl1]\nhosts:\n" + hosts
    )
    assert main(["plan", str(fleet)]) == 0
    out = capsys.readouterr().out
    assert "h000, h001 ... h200 (201 in all) (compute)" in out
    assert out.count("(compute)") == 1
    assert "\nh200  0000:86:00.0 10de:1024" in out


def test_redaction_across_the_reader_s_chunk_borders() -> None:
    for pad in range((1 << 20) - 12, (1 << 20) + 2):
        text = "x" * pad + " password=hunter2 and token: abc"
        assert "hunter2" not in safe_text(text)
        assert "abc" not in safe_text(text)
