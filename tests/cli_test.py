"""The command line: config files, --dry-run, run directories, one-line errors."""

import json
import os
import re

import pytest

from keras_ssl.app import cli
from keras_ssl.app.cli import main


def dry_run(capsys, *argv):
    assert main([*argv, "--dry-run"]) == 0
    return json.loads(capsys.readouterr().out)


def error_of(capsys, *argv):
    assert main(list(argv)) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("(run again with --debug")
    return lines[0]


def test_dry_run_prints_the_resolved_defaults(capsys):
    options = dry_run(capsys, "pretrain")
    assert options["command"] == "pretrain"
    assert options["method"] == "simclr"
    assert options["epochs"] == 5
    assert options["model_kwargs"] == {}
    assert "dry_run" not in options and "config" not in options


def test_json_config_sets_options_and_flags_override_it(tmp_path, capsys):
    path = tmp_path / "run.json"
    path.write_text(
        json.dumps(
            {
                "method": "vicreg",
                "batch-size": 64,
                "epochs": 2,
                "learning_rate": 1,
                "model_kwargs": {"collapse_metrics": True},
            }
        )
    )
    options = dry_run(capsys, "pretrain", "--config", str(path), "--epochs", "7")
    assert options["method"] == "vicreg"
    assert options["batch_size"] == 64
    assert options["epochs"] == 7  # the flag wins over the file
    assert options["learning_rate"] == 1.0
    assert isinstance(options["learning_rate"], float)
    assert options["model_kwargs"] == {"collapse_metrics": True}


def test_yaml_config_can_supply_required_options(tmp_path, capsys):
    path = tmp_path / "tune.yaml"
    path.write_text("model: runs/x/model.keras\ntuner: hyperband\nmax-trials: 4\n")
    options = dry_run(capsys, "tune", f"--config={path}")
    assert options["model"] == "runs/x/model.keras"
    assert options["tuner"] == "hyperband"
    assert options["max_trials"] == 4
    # Without the file the same command misses --model (argparse exits 2).
    with pytest.raises(SystemExit) as exit_info:
        main(["tune", "--dry-run"])
    assert exit_info.value.code == 2
    capsys.readouterr()


def test_an_empty_yaml_file_changes_nothing(tmp_path, capsys):
    path = tmp_path / "empty.yml"
    path.write_text("# nothing yet\n")
    assert dry_run(capsys, "pretrain", "--config", str(path))["method"] == "simclr"


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("typo.json", '{"batch_sise": 3}', r"Did you mean 'batch_size'\?"),
        ("type.json", '{"epochs": "x"}', r"`epochs` must be an integer"),
        ("bool.json", '{"epochs": true}', r"`epochs` must be an integer"),
        ("float.json", '{"time_budget": "soon"}', r"`time_budget` must be a number"),
        ("list.json", "[1, 2]", r"must hold a mapping .* holding a list"),
        ("bad.json", "{epochs: 3", r"must be a valid JSON file"),
        ("bad.yaml", "epochs: [3", r"must be a valid YAML file"),
        ("config.toml", "epochs = 3", r"must end in .json, .yaml or .yml"),
        ("flag.json", '{"dry_run": true}', r"Unknown option .* 'dry_run'"),
    ],
)
def test_bad_config_files_are_one_clear_line(tmp_path, capsys, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    line = error_of(capsys, "pretrain", "--config", str(path))
    assert line.startswith("keras-ssl pretrain: error: ")
    assert "--config" in line or "Config option" in line
    assert re.search(message, line), line


def test_config_values_respect_choices(tmp_path, capsys):
    path = tmp_path / "ft.json"
    path.write_text('{"model": "m.keras", "class_weight": "inverse"}')
    line = error_of(capsys, "finetune", "--config", str(path))
    assert "`class_weight` must be one of ['balanced']" in line


def test_missing_config_file(tmp_path, capsys):
    line = error_of(capsys, "probe", "--config", str(tmp_path / "nope.json"))
    assert "must be an existing JSON or YAML file" in line


def test_dry_run_checks_the_method_and_model_kwargs(capsys):
    assert "Did you mean 'simclr'" in error_of(
        capsys, "pretrain", "--method", "simclrr", "--dry-run"
    )
    assert "`--model-kwargs` must be a JSON object" in error_of(
        capsys, "pretrain", "--model-kwargs", "[1]", "--dry-run"
    )


def test_unexpected_errors_are_one_line_and_debug_shows_them(monkeypatch, capsys):
    def broken(args):
        raise TypeError("something inside broke")

    monkeypatch.setitem(cli._COMMANDS, "pretrain", broken)
    line = error_of(capsys, "pretrain")
    assert line == (
        "keras-ssl pretrain: error: unexpected TypeError: something inside broke"
    )
    with pytest.raises(TypeError, match="something inside broke"):
        main(["pretrain", "--debug"])


@pytest.mark.slow
def test_a_cli_run_leaves_config_metrics_and_logs_in_its_run_directory(
    tmp_path, capsys
):
    config = tmp_path / "tiny.yaml"
    config.write_text(
        "method: simclr\nepochs: 1\nbatch_size: 16\nsteps_per_epoch: 2\n"
        "model_kwargs:\n  widths: [4, 8]\n"
        f"output_dir: {tmp_path / 'runs'}\n"
    )
    assert main(["pretrain", "--config", str(config), "--seed", "3"]) == 0
    out = capsys.readouterr().out
    (run_dir,) = [
        line.split(": ", 1)[1].split(" (")[0]
        for line in out.splitlines()
        if line.startswith("Run directory: ")
    ]
    assert os.path.dirname(run_dir) == str(tmp_path / "runs")
    files = set(os.listdir(run_dir))
    assert {"config.json", "metrics.json", "command.json", "run.log"} <= files
    assert {"model.keras", "encoder.keras", "logs"} <= files
    command = json.load(open(os.path.join(run_dir, "command.json")))
    assert command["argv"][:2] == ["keras-ssl", "pretrain"]
    assert command["options"]["seed"] == 3
    assert command["options"]["batch_size"] == 16
    with open(os.path.join(run_dir, "run.log")) as f:
        assert f.readline().startswith("$ keras-ssl pretrain --config")
    metrics = json.load(open(os.path.join(run_dir, "metrics.json")))
    assert metrics["steps"] == 2
    assert f"Model: {os.path.join(run_dir, 'model.keras')}" in out
    assert "Next: keras-ssl probe --model" in out


def write_image_folder(root):
    """Two classes of PNGs of two different sizes, greyscale and colour."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    for label, (size, channels) in {"cat": (10, 3), "dog": (12, 1)}.items():
        os.makedirs(root / label)
        for i in range(5):
            image = rng.integers(0, 256, (size, size, channels), dtype=np.uint8)
            tf.io.write_file(str(root / label / f"{i}.png"), tf.io.encode_png(image))


def test_image_folder_flags_are_passed_to_the_loader(tmp_path):
    write_image_folder(tmp_path / "pets")
    parser = cli.build_parser()
    argv = ["pretrain", "--dataset", str(tmp_path / "pets")]
    with pytest.raises(ValueError, match="image_size"):  # the sizes differ
        cli._dataset(parser.parse_args(argv))
    args = parser.parse_args([*argv, "--image-size", "8", "6", "--color-mode", "rgb"])
    data = cli._dataset(args)
    assert data.x.shape == (10, 8, 6, 3)
    assert sorted(set(data.y.tolist())) == [0, 1]


def test_probe_splits_a_csv_into_train_and_test(tmp_path, capsys):
    path = tmp_path / "notes.csv"
    rows = [f"text {i},{'ab'[i % 2]}" for i in range(20)]
    path.write_text("body,topic\n" + "\n".join(rows) + "\n")
    parser = cli.build_parser()
    argv = ["probe", "--model", "m.keras", "--dataset", str(path)]
    train, test = cli._dataset(
        parser.parse_args([*argv, "--text-column", "body", "--label-column", "topic"]),
        pair=True,
    )
    assert (len(train), len(test)) == (16, 4)
    assert set(test.y.tolist()) == {0, 1}  # stratified
    # Named datasets stay names: the workflows load them.
    assert cli._dataset(parser.parse_args(["probe", "--model", "m.keras"])) is None
    line = error_of(capsys, "finetune", "--model", "m.keras", "--dataset", str(path))
    assert "needs `--text-column`" in line


def test_a_tfds_dataset_is_read_into_memory(capsys):
    tfds = pytest.importorskip("tensorflow_datasets")
    parser = cli.build_parser()
    argv = ["probe", "--model", "m.keras", "--dataset", "tfds:mnist"]
    # mock_data generates random examples: nothing is downloaded.
    with tfds.testing.mock_data(num_examples=12):
        train, test = cli._dataset(
            parser.parse_args([*argv, "--max-examples", "10"]), pair=True
        )
    assert train.x.shape == (10, 28, 28, 1) and train.x.dtype == "uint8"
    assert len(test) == 10 and test.y.shape == (10,)
    line = error_of(
        capsys, "pretrain", "--dataset", "tfds:mnist", "--max-examples", "0"
    )
    assert "`--max-examples` must be a positive integer" in line
