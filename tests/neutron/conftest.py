"""pytest stays out of this folder: its modules import neutron and run under testtools.

They are neutron's own testtools test cases, run by `scripts/test-neutron` in `.venv-neutron`
(`python -m testtools.run`); pytest would mangle their ids even where neutron is installed, and
the main venv has no neutron. `collect_ignore_glob` is read by pytest before it imports anything
here, so a plain `pytest` from the repository root collects nothing below this folder.
"""

collect_ignore_glob = ["test_*.py"]
