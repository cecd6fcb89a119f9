"""distilabel 1.5.3's own integration tests for the run machinery our runtime patches (pipeline,
cache, replicas, offline batch generation, a failing branch), from its sdist, in three modes
(scripts/distilabel_suite.py): plain; with distilabel_magpie imported (outcomes identical: an
import patches nothing); with the mends on every pipeline (outcomes identical but for the
intended differences listed here). The full suite is run with the script (docs/distilabel-suite.md).

Needs PyPI for the sdist (cached after the first run): without it the test skips, and fails
under CI=true.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e

SUBSET = [
    "tests/integration/test_pipe_simple.py",
    "tests/integration/test_cache.py",
    "tests/integration/test_caching_steps.py",
    "tests/integration/test_multiple_replicas.py",
    "tests/integration/test_offline_batch_generation.py",
    "tests/integration/test_branching_missaligmnent.py",
]

# distilabel marks these xfail (not strict): they pass or fail by chance (replica timing), so
# xfailed and xpassed count as the same outcome here; a hang (timeout) still differs.
CHANCE = {"tests/integration/test_multiple_replicas.py::test_multiple_replicas"}

BRANCHING = ("tests/integration/test_branching_missaligmnent.py::"
             "test_branching_missalignment_because_step_fails_processing_batch")

# test id -> how the mends change its outcome, why, and what the mended failure says
INTENDED = {
    BRANCHING: {
        "plain": "passed", "mended": "failed",
        "detail": "PipelineFailed: pipeline 'pipeline_load_data_from_dicts_0_fail_always_0",
        "because": "guard.py: a batch that fails in a normal step stops a mended run (PipelineFailed naming the "
                   "step) instead of being passed on with None outputs, which this test expects in the grouped column",
    },
}

PER_TEST_TIMEOUT = 180


def _load_script():
    spec = importlib.util.spec_from_file_location("distilabel_suite", ROOT / "scripts" / "distilabel_suite.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


suite = _load_script()


@pytest.fixture(scope="module")
def source():
    try:
        return suite.fetch()
    except suite.SuiteUnavailable as e:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"distilabel's sdist could not be downloaded (CI=true): {e}")
        pytest.skip(f"distilabel's sdist could not be downloaded (no network?): {e}")


@pytest.fixture(scope="module")
def results(source, tmp_path_factory):
    """Each mode's summary; the three modes run side by side, once for the module."""
    work = tmp_path_factory.mktemp("distilabel-suite")
    summaries = suite.run_modes(suite.MODES, SUBSET, parallel=True, timeout=PER_TEST_TIMEOUT, work_dir=work,
                                source=source, test_packages=False, quiet=True)
    return summaries.__getitem__


def _outcomes(summary: dict) -> dict[str, str]:
    return {n: "xfailed" if n in CHANCE and o == "xpassed" else o for n, o in summary["outcomes"].items()}


def _explain(summary: dict, nodeids) -> str:
    return "\n".join(f"{n}: {summary['outcomes'].get(n)}\n{summary['details'].get(n, '')}" for n in nodeids)


def test_plain_runs_the_subset(results):
    plain = results("plain")
    assert not plain["problems"], plain["problems"]
    outcomes = plain["outcomes"]
    assert all(any(n.startswith(p) for n in outcomes) for p in SUBSET), plain["outcomes"]
    bad = [n for n, o in outcomes.items() if o in ("failed", "error", "timeout", "crashed", "skipped")]
    assert not bad, _explain(plain, bad)
    for nodeid, change in INTENDED.items():
        assert outcomes.get(nodeid) == change["plain"], _explain(plain, [nodeid])


def test_imported_changes_no_outcome(results):
    plain, imported = results("plain"), results("imported")
    assert not imported["problems"], imported["problems"]
    assert any(c["ok"] for c in imported["checks"]), "magpie_imported did not check distilabel at the end"
    diff = suite.differences(_outcomes(plain), _outcomes(imported))
    assert not diff, _explain(imported, diff)


def test_mended_changes_only_the_intended_outcomes(results):
    plain, mended = results("plain"), results("mended")
    assert not mended["problems"], mended["problems"]
    assert any(c["ok"] and c["message"].startswith("mends installed") for c in mended["checks"]), mended["checks"]
    diff = suite.differences(_outcomes(plain), _outcomes(mended))
    intended = {n: [c["plain"], c["mended"]] for n, c in INTENDED.items()}
    unexpected = {n: d for n, d in diff.items() if d != intended.get(n)}
    assert not unexpected, f"{unexpected}\n" + _explain(mended, unexpected)
    missing = set(INTENDED) - set(diff)
    assert not missing, f"intended differences that did not happen: {missing}\n" + _explain(mended, missing)
    for nodeid, change in INTENDED.items():
        assert change["detail"] in mended["details"].get(nodeid, ""), _explain(mended, [nodeid])
