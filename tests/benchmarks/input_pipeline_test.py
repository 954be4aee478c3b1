"""Smoke test: benchmarks/input_pipeline.py builds its data and reports
what it promises.

The data builders and the step clock are checked in this process on tiny
data; `--quick` runs (600 / 6,000 images, 300 / 3,000 lines, 64 JPEGs,
tiny models, 2 + 3 steps, each training run in its own process) check the
plumbing and the arithmetic of the JSON lines, never the timings.
"""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_ssl.datasets import load, read_index, stream_shards

SCRIPT = os.path.join(
    os.path.dirname(__file__), "..", "..", "benchmarks", "input_pipeline.py"
)


def _module():
    spec = importlib.util.spec_from_file_location("input_pipeline_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _module()


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
    return [json.loads(s) for s in done.stdout.splitlines() if s.startswith("{")]


def approx(value):
    # Figures are printed with 5 significant digits.
    return pytest.approx(value, rel=1e-3)


# Data builders and the clock (in this process) ------------------------------


def test_augmented_copies_are_seeded_flips_and_shifts():
    x = load("fashion_mnist", split="train").x[:50]
    one = bench.augmented_copy(x, seed=1)
    assert one.shape == x.shape and one.dtype == np.uint8
    np.testing.assert_array_equal(one, bench.augmented_copy(x, seed=1))
    assert not np.array_equal(one, bench.augmented_copy(x, seed=2))
    changed = [not np.array_equal(a, b) for a, b in zip(one, x)]
    assert sum(changed) >= 40  # unchanged: not flipped nor shifted, p = 1/50
    # A flip or shift of at most 2 pixels: some candidate gives the copy.
    for original, copy in zip(x, one):
        padded = np.pad(original, ((2, 2), (2, 2), (0, 0)))
        candidates = [
            image[2 + dy : 30 + dy, 2 + dx : 30 + dx]
            for image in (padded, padded[:, ::-1])
            for dy in range(-2, 3)
            for dx in range(-2, 3)
        ]
        assert any(np.array_equal(copy, c) for c in candidates)


def test_shuffled_words_keep_each_texts_words():
    texts = ["a b c d", "one two three", "single"]
    shuffled = bench.shuffled_words(texts, seed=3)
    assert shuffled == bench.shuffled_words(texts, seed=3)
    assert [sorted(t.split()) for t in shuffled] == [sorted(t.split()) for t in texts]
    many = [" ".join(str(i) for i in range(12))] * 4
    assert len(set(bench.shuffled_words(many, seed=0))) > 1


def test_image_shards_are_built_once_with_the_first_copy_unchanged(tmp_path):
    info = bench.image_shards(str(tmp_path), 20, 3)
    assert info["count"] == 60 and info["reused"] is False
    assert info["build_seconds"] >= 0
    assert read_index(info["path"])[1]["count"] == 60
    first = np.stack(list(stream_shards(info["path"]).examples(labels=False).take(20)))
    np.testing.assert_array_equal(first, load("fashion_mnist", split="train").x[:20])
    again = bench.image_shards(str(tmp_path), 20, 3)
    assert again == {**info, "reused": True}


def test_text_file_is_rebuilt_when_the_cache_is_damaged(tmp_path):
    info = bench.text_file(str(tmp_path), 30, 10)
    with open(info["path"], encoding="utf-8") as f:
        lines = f.read().splitlines()
    assert info["count"] == len(lines) == 300 and all(lines)
    first = [str(t).strip() for t in load("wordnet").x[:30]]
    assert lines[:30] == first
    assert lines[30:60] != first
    assert sorted(lines[30].split()) == sorted(first[0].split())
    assert bench.text_file(str(tmp_path), 30, 10)["reused"] is True
    with open(info["path"], "a", encoding="utf-8") as f:
        f.write("an extra line\n")
    rebuilt = bench.text_file(str(tmp_path), 30, 10)
    assert rebuilt["reused"] is False
    assert os.path.getsize(info["path"]) == rebuilt["bytes"] == info["bytes"]


def test_step_clock_times_the_steps_after_the_warmup():
    clock = bench.StepClock()
    clock.times = [10.0, 11.0, 11.5, 12.0, 12.5]
    rate, timed, seconds = clock.rate(warmup=2)
    assert (timed, seconds, rate) == (3, 1.5, 2.0)
    with pytest.raises(ValueError, match="warmup"):
        clock.rate(warmup=0)


def test_ratios_are_left_out_when_a_run_failed():
    assert bench._ratio({"a": 3.0}, {"a": 4.0}, "a") == 0.75
    assert bench._ratio({"error": "boom"}, {"a": 4.0}, "a") is None


def test_unknown_case_is_a_clear_error(capsys):
    with pytest.raises(SystemExit) as raised:
        bench.parse_args(["--cases", "rss_simclr_64x64"])
    assert raised.value.code == 2
    assert "--cases: unknown ['rss_simclr_64x64']" in capsys.readouterr().err


# --quick runs (subprocesses) -------------------------------------------------


def check_run(run, batch, per_step, unit):
    """A training run's figures: counts as asked, rates as their quotients."""
    assert "error" not in run, run
    assert run["steps"] == 5 and run["timed_steps"] == 3
    assert run["steps_per_s"] == approx(run["timed_steps"] / run["timed_seconds"])
    assert run[unit] == approx(run["steps_per_s"] * per_step)
    assert run["seconds"] > run["timed_seconds"] > 0
    assert 100 < run["rss_before_training_mb"] <= run["peak_rss_mb"] < 20_000


@pytest.mark.slow
def test_quick_memory_line(tmp_path):
    lines = run("--quick", "--cases", "rss_simclr_28x28", "--data-dir", str(tmp_path))
    (rss,) = lines
    assert rss["case"] == "rss_simclr_28x28" and rss["method"] == "simclr"
    assert (rss["batch_size"], rss["warmup_steps"], rss["timed_steps"]) == (8, 2, 3)
    for name, count in (("small", 600), ("large", 6000)):
        check_run(rss[name], 8, 8, "images_per_s")
        assert rss[name]["examples"] == rss["data"][name]["count"] == count
        assert read_index(rss["data"][name]["path"])[1]["count"] == count
    expected = rss["large"]["peak_rss_mb"] / rss["small"]["peak_rss_mb"]
    assert rss["peak_rss_ratio"] == approx(expected)
    assert rss["target_peak_rss_ratio"] == 1.1


@pytest.mark.slow
def test_quick_feed_line(tmp_path):
    (feed,) = run("--quick", "--cases", "feed_mlm", "--data-dir", str(tmp_path))
    assert feed["case"] == "feed_mlm" and feed["method"] == "mlm"
    assert feed["examples"] == 300
    for name in ("memory", "stream"):
        check_run(feed[name], 8, 8 * 16, "tokens_per_s")  # batch x length
    expected = feed["stream"]["steps_per_s"] / feed["memory"]["steps_per_s"]
    assert feed["stream_to_memory_ratio"] == approx(expected)
    assert feed["target_ratio"] == 0.9
    with open(feed["data"]["small"]["path"], encoding="utf-8") as f:
        assert len(f.read().splitlines()) == 300


@pytest.mark.slow
def test_quick_jpeg_folder_line(tmp_path):
    (line,) = run("--quick", "--cases", "jpeg_folder_96", "--data-dir", str(tmp_path))
    assert line["case"] == "jpeg_folder_96" and line["images"] == 64
    folder, shards = line["data"]["folder"], line["data"]["shards"]
    classes = sorted(os.listdir(folder["path"]))
    assert len(classes) == 10 and "T-shirt_top" in classes
    files = [f for c in classes for f in os.listdir(os.path.join(folder["path"], c))]
    assert len(files) == 64 and all(f.endswith(".jpg") for f in files)
    index = read_index(shards["path"])[1]
    assert (index["count"], len(index["shards"])) == (64, 8)
    assert index["image_shape"] == [96, 96, 3]

    pipeline = line["pipeline"]
    assert (pipeline["batches"], pipeline["images"]) == (3, 24)
    assert pipeline["images_per_s"] == approx(24 / pipeline["timed_seconds"])
    for name in ("memory", "folder", "shards"):
        check_run(line[name], 8, 8, "images_per_s")
    expected = pipeline["images_per_s"] / line["memory"]["images_per_s"]
    assert line["pipeline_to_step_ratio"] == approx(expected)
    for name in ("folder", "shards"):
        ratio = line[name]["steps_per_s"] / line["memory"]["steps_per_s"]
        assert line[f"{name}_to_memory_ratio"] == approx(ratio)
        fraction = line[f"{name}_input_bound_fraction"]
        assert fraction == pytest.approx(max(0.0, 1.0 - ratio), abs=1e-3)
