"""The general images of the image base model: photograph crops at several
scales and clip art framed on black or white (tiny synthetic files)."""

import logging

import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.datasets import general_images, load_general_images
from keras_ssl.datasets.general_images import _decode, find_image_files

SIZE = 16


def _write(path, image, encode=tf.io.encode_png):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode(np.asarray(image, "uint8")).numpy())


def _checkerboard(height, width, low=60, high=190):
    """A one-pixel checkerboard (RGB): detail only small crops keep."""
    board = (np.indices((height, width)).sum(0) % 2).astype(bool)
    return np.repeat(np.where(board, high, low)[..., None], 3, axis=-1)


def _disc(side=40, radius=15, colour=(220, 20, 20)):
    """A red disc on a transparent canvas (RGBA)."""
    yy, xx = np.indices((side, side)) - (side - 1) / 2
    inside = yy**2 + xx**2 <= radius**2
    image = np.zeros((side, side, 4), "uint8")
    image[inside] = (*colour, 255)
    return image


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    root = tmp_path_factory.mktemp("general_images")
    scenes, objects = root / "scenes", root / "objects"
    _write(scenes / "board.png", _checkerboard(96, 128))
    _write(scenes / "sub" / "board.jpg", _checkerboard(64, 64), tf.io.encode_jpeg)
    (scenes / "link.png").symlink_to(scenes / "board.png")  # counted once
    (scenes / "drawing.svg").write_text("<svg/>")  # skipped, counted
    (scenes / "notes.txt").write_text("not an image")  # ignored
    _write(objects / "disc.png", _disc())
    grey_disc = _disc(colour=(128, 128, 128))[..., [0, 3]]  # grey + alpha
    _write(objects / "grey_disc.png", grey_disc)
    _write(objects / "empty.png", np.zeros((8, 8, 4)))  # all transparent
    (objects / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    return str(scenes), str(objects)


def _corners(x):
    return np.stack([x[:, 0, 0], x[:, 0, -1], x[:, -1, 0], x[:, -1, -1]], axis=1)


def test_find_image_files_counts_each_file_once(roots):
    scenes, objects = roots
    files, skipped = find_image_files(scenes)
    assert [f.rsplit("/", 1)[-1] for f in files] == ["board.png", "board.jpg"]
    assert skipped == 1  # the SVG
    files, skipped = find_image_files([objects])
    assert len(files) == 4 and skipped == 0


def test_shape_dtype_channels_and_seed(roots):
    scenes, objects = roots
    kw = dict(image_size=SIZE, count=24, seed=3)
    rgb = load_general_images(scenes, objects, channels=3, **kw)
    assert rgb.x.shape == (24, SIZE, SIZE, 3) and rgb.x.dtype == np.uint8
    assert rgb.y is None and rgb.label_names is None
    assert rgb.name == "general_images"
    again = load_general_images(scenes, objects, channels=3, **kw)
    np.testing.assert_array_equal(again.x, rgb.x)
    other = load_general_images(scenes, objects, channels=3, **{**kw, "seed": 4})
    assert not np.array_equal(other.x, rgb.x)
    grey = load_general_images(scenes, objects, channels=1, **kw)
    assert grey.x.shape == (24, SIZE, SIZE, 1)
    # The same crops, in luma (rounded from the unrounded RGB values).
    luma = tf.image.rgb_to_grayscale(rgb.x.astype("float32")).numpy()
    np.testing.assert_allclose(grey.x, luma, atol=1.01)


def test_transparent_pixels_do_not_bleed_into_the_edges(tmp_path):
    # A white disc whose transparent pixels hold pure green: shrunk
    # (premultiplied), no green may reach the edge.
    disc = _disc(side=64, radius=30, colour=(255, 255, 255))
    disc[disc[..., 3] == 0] = (0, 255, 0, 0)
    _write(tmp_path / "disc.png", disc)
    image, alpha = _decode(str(tmp_path / "disc.png"), longer=16)
    assert image.shape == (16, 16, 3) and alpha.shape == (16, 16, 1)
    rgb = image.numpy()
    np.testing.assert_allclose(rgb[..., 1], rgb[..., 0], atol=1e-3)  # grey only
    np.testing.assert_allclose(rgb[..., 0], 255 * alpha.numpy()[..., 0], atol=0.5)


def test_objects_are_framed_on_black_or_white(roots, caplog):
    _, objects = roots
    with caplog.at_level(logging.WARNING, logger="keras_ssl"):
        data = load_general_images(objects=objects, image_size=SIZE, count=30)
    # The empty and the broken file are skipped; the discs take their share.
    assert len(data) == 30
    assert "2 file(s) skipped" in caplog.text
    corners = _corners(data.x.astype(int))
    # Each image: the four corners are the background, black or white.
    assert (corners.max(1) - corners.min(1)).max() <= 8
    backgrounds = corners[:, 0, 0]
    assert set(np.round(backgrounds / 255).astype(int)) == {0, 1}
    assert np.all((backgrounds <= 8) | (backgrounds >= 247))
    # The disc fills 60-100% of the frame: its colour is in every image.
    red = (data.x[..., 0] > 150) & (data.x[..., 1] < 90)
    grey = (np.abs(data.x.astype(int) - 128) < 30).all(-1)
    assert np.all((red | grey).any(axis=(1, 2)))
    assert red.any(axis=(1, 2)).sum() == 15  # half the images per file


def test_scene_crops_span_scales(roots):
    scenes, _ = roots
    data = load_general_images(scenes, image_size=SIZE, count=200, seed=0)
    x = data.x.astype("float32")
    assert 60 - 2 <= x.min() and x.max() <= 190 + 2  # the photograph's values
    spread = x.reshape(len(x), -1).std(1)
    # Small crops keep the one-pixel checkerboard, large ones (shrunk
    # without aliasing) average it to grey: both kinds are there.
    assert (spread > 15).sum() >= 50
    assert (spread < 1).sum() >= 40


def test_object_fraction_splits_the_count(roots):
    scenes, objects = roots
    kw = dict(image_size=SIZE, count=20, seed=1)
    data = load_general_images(scenes, objects, object_fraction=0.25, **kw)
    corners = _corners(data.x.astype(int))
    framed = ((corners <= 8) | (corners >= 247)).all(axis=(1, 2))
    assert framed.sum() == 5  # the checkerboard never reaches 0 or 255
    only = load_general_images(scenes, objects, object_fraction=0.0, **kw)
    assert not ((_corners(only.x) <= 8) | (_corners(only.x) >= 247)).all(1).any()


def test_large_files_are_decoded_small_or_skipped(tmp_path, monkeypatch):
    _write(tmp_path / "big.jpg", _checkerboard(256, 320), tf.io.encode_jpeg)
    image, alpha = _decode(str(tmp_path / "big.jpg"), shorter=32)
    assert image.shape == (32, 40, 3) and alpha is None  # ratio 8 decoding
    _write(tmp_path / "big.png", _checkerboard(100, 50))
    image, _ = _decode(str(tmp_path / "big.png"), shorter=20)
    assert image.shape == (40, 20, 3)  # resized down to a shorter side of 20
    image, _ = _decode(str(tmp_path / "big.png"), longer=50)
    assert image.shape == (50, 25, 3)  # or a longer side of 50
    monkeypatch.setattr(general_images, "MAX_PIXELS", 4000)
    assert _decode(str(tmp_path / "big.png")) is None  # header says 5,000


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"image_size": 4}, ValueError, "image_size"),
        ({"channels": 2}, ValueError, "channels"),
        ({"count": 0}, ValueError, "count"),
        ({"object_fraction": 1.5}, ValueError, "object_fraction"),
        ({"max_side": 8}, ValueError, "max_side"),
        ({"scenes": "/no/such/folder"}, FileNotFoundError, "scenes"),
        ({"scenes": None}, ValueError, "both empty"),
    ],
)
def test_bad_arguments(roots, kwargs, error, match):
    kw = {"scenes": roots[0], "image_size": SIZE, "count": 4, **kwargs}
    with pytest.raises(error, match=match):
        load_general_images(**kw)


def test_no_images_found_or_decoded(tmp_path):
    (tmp_path / "a.svg").write_text("<svg/>")
    with pytest.raises(FileNotFoundError, match=r"No image file.*1 SVG"):
        load_general_images(scenes=str(tmp_path), image_size=SIZE, count=4)
    (tmp_path / "b.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    with pytest.raises(ValueError, match="None of the 1 image files decoded"):
        load_general_images(objects=str(tmp_path), image_size=SIZE, count=4)
