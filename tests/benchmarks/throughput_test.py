"""Smoke test: benchmarks/throughput.py runs and prints what it promises.

Tiny models and two timed steps (`--quick`): this checks the plumbing and
the arithmetic of the report, never the timings themselves.
"""

import json
import os
import subprocess
import sys

import pytest

SCRIPT = os.path.join(
    os.path.dirname(__file__), "..", "..", "benchmarks", "throughput.py"
)

pytestmark = pytest.mark.slow


def run(*args, timeout=600):
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", KERAS_BACKEND="tensorflow")
    done = subprocess.run(
        [sys.executable, SCRIPT, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout


def test_quick_run_prints_one_json_line_per_case():
    out = run("--quick", "--cases", "simclr_28x28,mlm_128", "--xla", "off")
    lines = [json.loads(s) for s in out.splitlines() if s.startswith("{")]
    assert [(line["case"], line["xla"]) for line in lines] == [
        ("simclr_28x28", False),
        ("mlm_128", False),
    ]
    for line in lines:
        unit = "images_per_s" if line["case"].startswith("simclr") else "tokens_per_s"
        results = line["results"]
        assert {"reference", "ours"} <= set(results)
        assert line["matmul_gflop_per_s"] > 0
        reference = results["reference"]
        for name, result in results.items():
            assert "error" not in result, (name, result)
            assert result["step_ms"] > 0 and result[unit] > 0
            assert result["jit_compile"] is False
            if name != "reference":
                expected = result[unit] / reference[unit]
                assert result["speedup"] == pytest.approx(expected, rel=1e-2)
        ours = results["ours"]
        assert ours["gflop_per_step"] > 0
        achieved = ours["gflop_per_step"] / (ours["step_ms"] / 1000)
        assert ours["achieved_gflop_per_s"] == pytest.approx(achieved, rel=2e-2)
        assert ours["fraction_of_matmul"] == pytest.approx(
            ours["achieved_gflop_per_s"] / line["matmul_gflop_per_s"], rel=2e-2
        )
    simclr, mlm = lines
    assert "ours_views_in_pipeline" in simclr["results"]
    assert mlm["tokenize_once_s"] > 0


def test_rss_child_reports_its_own_peak_memory():
    out = run("--quick", "--rss-child", "simclr_28x28:ours:0")
    line = [s for s in out.splitlines() if s.startswith("RSS ")][-1]
    rss = json.loads(line[4:])
    # A fresh process: more than the interpreter and TensorFlow, and the
    # peak is reached while training, not inherited from a parent.
    assert 100 < rss["rss_before_model_mib"] <= rss["peak_rss_mib"] < 20_000


def test_unknown_case_is_a_clear_error():
    done = subprocess.run(
        [sys.executable, SCRIPT, "--cases", "simclr_64x64"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "--cases: unknown ['simclr_64x64']" in done.stderr
