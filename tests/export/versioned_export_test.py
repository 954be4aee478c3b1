import os

import numpy as np
import pytest

from keras_ssl.export import versioned_export


def fake_export(export_dir, content="model"):
    """Writes a tiny stand-in for a SavedModel."""
    os.makedirs(export_dir, exist_ok=True)
    with open(os.path.join(export_dir, "saved_model.pb"), "w") as f:
        f.write(content)


def listing(path):
    return sorted(p.name for p in path.iterdir())


def test_auto_version_increments(tmp_path):
    paths = [versioned_export(fake_export, tmp_path, "model") for _ in range(3)]
    assert paths == [str(tmp_path / "model" / v) for v in ("1", "2", "3")]
    assert listing(tmp_path / "model") == ["1", "2", "3"]
    for path in paths:
        assert listing(tmp_path / "model" / os.path.basename(path)) == [
            "saved_model.pb"
        ]


def test_auto_version_follows_largest_numeric_folder(tmp_path):
    model_dir = tmp_path / "model"
    for name in ("2", "10", "notes", ".tmp-99-1-abc"):
        (model_dir / name).mkdir(parents=True)
    (model_dir / "42").write_text("a file, not a version")
    path = versioned_export(fake_export, tmp_path, "model", version="auto")
    assert path == str(model_dir / "11")


def test_explicit_version_and_kwargs(tmp_path):
    path = versioned_export(
        fake_export, str(tmp_path / "new" / "base"), "m-1.v_2", 7, content="x"
    )
    assert path == os.path.join(str(tmp_path), "new", "base", "m-1.v_2", "7")
    assert (tmp_path / "new/base/m-1.v_2/7/saved_model.pb").read_text() == "x"
    assert versioned_export(fake_export, tmp_path, "m", np.int64(3)).endswith("3")


def test_writes_in_a_hidden_temporary_folder_inside_the_model_folder(tmp_path):
    seen = []

    def export_fn(export_dir):
        seen.append(export_dir)
        assert os.path.isdir(export_dir) and not os.listdir(export_dir)
        assert not (tmp_path / "model" / "1").exists()
        fake_export(export_dir)

    versioned_export(export_fn, tmp_path, "model")
    (temp,) = seen
    assert os.path.dirname(temp) == str(tmp_path / "model")
    assert os.path.basename(temp).startswith(f".tmp-1-{os.getpid()}-")
    assert not os.path.exists(temp)
    assert listing(tmp_path / "model") == ["1"]


def test_version_folder_has_the_usual_permissions(tmp_path):
    # A private (0700) folder would be unreadable to a TF Serving process
    # running as another user.
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "reference").mkdir()
    path = versioned_export(fake_export, tmp_path, "model")
    usual = (tmp_path / "model" / "reference").stat().st_mode & 0o777
    assert os.stat(path).st_mode & 0o777 == usual


def test_refuses_to_overwrite_a_version(tmp_path):
    versioned_export(fake_export, tmp_path, "model", 1, content="old")
    old = tmp_path / "model" / "1" / "saved_model.pb"
    stat = old.stat()
    calls = []

    def export_fn(export_dir):
        calls.append(export_dir)
        fake_export(export_dir, content="new")

    expected = str(tmp_path / "model" / "1")
    with pytest.raises(FileExistsError, match=expected):
        versioned_export(export_fn, tmp_path, "model", 1)
    assert calls == []  # refused before exporting anything
    assert old.read_text() == "old"
    assert old.stat().st_mtime_ns == stat.st_mtime_ns
    assert listing(tmp_path / "model") == ["1"]
    assert listing(tmp_path / "model" / "1") == ["saved_model.pb"]


def test_refuses_version_written_during_the_export(tmp_path):
    def export_fn(export_dir):
        fake_export(export_dir, content="late")
        (tmp_path / "model" / "1").mkdir()  # another writer won the race

    with pytest.raises(FileExistsError, match="already exists"):
        versioned_export(export_fn, tmp_path, "model")
    assert listing(tmp_path / "model") == ["1"]
    assert listing(tmp_path / "model" / "1") == []


def test_failing_export_leaves_no_temporary_folder(tmp_path):
    def export_fn(export_dir):
        fake_export(export_dir)
        raise RuntimeError("export failed")

    with pytest.raises(RuntimeError, match="export failed"):
        versioned_export(export_fn, tmp_path, "model")
    assert listing(tmp_path / "model") == []


def test_export_that_writes_nothing_is_refused(tmp_path):
    with pytest.raises(ValueError, match="`export_fn`.*Received.*wrote nothing"):
        versioned_export(lambda export_dir: None, tmp_path, "model")
    assert listing(tmp_path / "model") == []


@pytest.mark.parametrize("name", ["a/b", "..", "", "x y", ".", "a\\b", None, 3])
def test_bad_names(tmp_path, name):
    with pytest.raises(ValueError, match="`name`.*Received: name="):
        versioned_export(fake_export, tmp_path, name)
    assert listing(tmp_path) == []


@pytest.mark.parametrize("version", [0, -1, "abc", 1.5, True, "1", None])
def test_bad_versions(tmp_path, version):
    with pytest.raises(ValueError, match="`version`.*Received: version="):
        versioned_export(fake_export, tmp_path, "model", version)
    assert listing(tmp_path) == []


def test_bad_export_fn_base_dir_and_kwargs(tmp_path):
    with pytest.raises(ValueError, match="`export_fn`.*Received"):
        versioned_export("export_image_encoder", tmp_path, "model")
    with pytest.raises(ValueError, match="`base_dir`.*Received"):
        versioned_export(fake_export, None, "model")
    with pytest.raises(ValueError, match="`base_dir`.*Received"):
        versioned_export(fake_export, "", "model")
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="`base_dir`.*Received"):
        versioned_export(fake_export, tmp_path / "file", "model")
    with pytest.raises(ValueError, match="`export_dir`.*Received"):
        versioned_export(fake_export, tmp_path, "model", export_dir="x")
    assert listing(tmp_path) == ["file"]
