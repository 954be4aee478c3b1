"""Tests of `keras_ssl.checks`, the package's one module of argument checks."""

import re

import keras
import numpy as np
import pytest

from keras_ssl import checks


def raises(name, received):
    """`pytest.raises` for a message naming `name` and the received value."""
    return pytest.raises(
        ValueError, match=rf"`{re.escape(name)}`.*Received: .*{re.escape(received)}"
    )


# Numbers ------------------------------------------------------------------


@pytest.mark.parametrize("value", [1, 7, np.int64(3), np.int32(1)])
def test_positive_int_accepts_and_returns_an_int(value):
    result = checks.check_positive_int("steps", value)
    assert result == int(value) and type(result) is int


@pytest.mark.parametrize("value", [0, -1, 1.0, 2.5, True, "3", None, [1]])
def test_positive_int_rejects(value):
    with raises("steps", f"steps={value!r}"):
        checks.check_positive_int("steps", value)


def test_positive_int_allow_none():
    assert checks.check_positive_int("steps", None, allow_none=True) is None
    with pytest.raises(ValueError, match="positive int or None. Received: steps=0"):
        checks.check_positive_int("steps", 0, allow_none=True)


def test_int_range():
    assert checks.check_int_range("k", 0, 0) == 0
    assert checks.check_int_range("k", 5, 1, 5) == 5
    with pytest.raises(ValueError, match=r"`k` must be an int >= 1\. Received: k=0"):
        checks.check_int_range("k", 0, 1)
    with pytest.raises(ValueError, match=r"int in \[1, 5\]\. Received: k=6"):
        checks.check_int_range("k", 6, 1, 5)
    with raises("k", "k=2.0"):
        checks.check_int_range("k", 2.0, 1)


@pytest.mark.parametrize("value", [1e-8, 0.5, 3, np.float32(2.0)])
def test_positive_accepts_and_returns_a_float(value):
    result = checks.check_positive("temperature", value)
    assert result == pytest.approx(float(value)) and type(result) is float


@pytest.mark.parametrize("value", [0, -0.1, float("nan"), True, "0.1", None])
def test_positive_rejects(value):
    with pytest.raises(ValueError, match=r"`temperature` must be a number > 0"):
        checks.check_positive("temperature", value)


def test_positive_allow_none_and_non_negative():
    assert checks.check_positive("lr", None, allow_none=True) is None
    assert checks.check_non_negative("margin", 0) == 0.0
    with raises("margin", "margin=-1"):
        checks.check_non_negative("margin", -1)
    with raises("margin", "margin=nan"):
        checks.check_non_negative("margin", float("nan"))


def test_fraction_bounds():
    assert checks.check_fraction("p", 0) == 0.0
    assert checks.check_fraction("p", 1) == 1.0
    assert checks.check_fraction("angle", 90, 0.0, 180.0) == 90.0
    with pytest.raises(ValueError, match=r"in \[0\.0, 1\.0\]\. Received: p=1\.5"):
        checks.check_fraction("p", 1.5)
    with pytest.raises(ValueError, match=r"in \(0\.0, 1\.0\)\. Received: p=0"):
        checks.check_fraction("p", 0, low_open=True, high_open=True)
    with pytest.raises(ValueError, match=r"in \[0\.0, 1\.0\)\. Received: p=1"):
        checks.check_fraction("p", 1, high_open=True)
    with raises("p", "p=True"):
        checks.check_fraction("p", True)


def test_bool():
    assert checks.check_bool("overwrite", False) is False
    with raises("overwrite", "overwrite=1"):
        checks.check_bool("overwrite", 1)


# Choices, seeds, paths ----------------------------------------------------


def test_choice_lists_the_choices_in_order_and_suggests_the_closest():
    assert checks.check_choice("tuner", "random", ("random", "bayesian")) == "random"
    with pytest.raises(ValueError) as info:
        checks.check_choice("tuner", "randm", ("random", "hyperband", "bayesian"))
    message = str(info.value)
    assert "Argument `tuner` must be one of ['random', 'hyperband', 'bayesian']" in (
        message
    )
    assert "Received: tuner='randm'. Did you mean 'random'?" in message


def test_choice_without_a_close_match_and_with_unhashable_values():
    with pytest.raises(ValueError) as info:
        checks.check_choice("tuner", "grid", ("random", "bayesian"))
    assert "Did you mean" not in str(info.value)
    with raises("tuner", "tuner=['random']"):
        checks.check_choice("tuner", ["random"], ("random",))


def test_choice_cutoff():
    with pytest.raises(ValueError) as info:
        checks.check_choice("mode", "stopp_all", ("stop", "warn"), cutoff=0.5)
    assert "Did you mean 'stop'?" in str(info.value)
    with pytest.raises(ValueError) as info:
        checks.check_choice("mode", "stopp_all", ("stop", "warn"), cutoff=0.9)
    assert "Did you mean" not in str(info.value)


@pytest.mark.parametrize("value", [0, 1, 2**32 - 2, np.int64(42)])
def test_seed_accepts(value):
    assert checks.check_seed("seed", value) == int(value)
    assert checks.check_seed(value) == int(value)


@pytest.mark.parametrize("value", [-1, 2**32 - 1, 1.0, True, "0", None])
def test_seed_rejects(value):
    with pytest.raises(
        ValueError,
        match=rf"`seed` must be an int in \[0, 2\*\*32 - 2\]\. Received: seed="
        rf"{re.escape(repr(value))}",
    ):
        checks.check_seed("seed", value)


def test_seed_names_the_argument():
    with raises("shuffle_seed", "shuffle_seed=-1"):
        checks.check_seed("shuffle_seed", -1)


def test_path(tmp_path):
    assert checks.check_path("log_dir", str(tmp_path)) == str(tmp_path)
    assert checks.check_path("log_dir", tmp_path) == str(tmp_path)
    assert checks.check_path("log_dir", None, allow_none=True) is None
    with raises("log_dir", "log_dir=''"):
        checks.check_path("log_dir", "")
    with pytest.raises(ValueError, match="non-empty path or None. Received: log_dir=3"):
        checks.check_path("log_dir", 3, allow_none=True)


def test_is_int_and_is_number():
    assert checks.is_int(3) and checks.is_int(np.int8(3))
    assert not checks.is_int(True) and not checks.is_int(3.0)
    assert checks.is_number(3.5) and checks.is_number(np.float32(1))
    assert not checks.is_number(False) and not checks.is_number("1")


# Images, labels, lengths --------------------------------------------------


def test_images_accepts_arrays_and_symbolic_tensors():
    images = np.zeros((2, 8, 8, 3), "uint8")
    assert checks.check_images("x", images) is images
    symbolic = keras.Input((8, 8, 1))
    assert checks.check_images("x", symbolic) is symbolic
    assert checks.check_images("x", symbolic, shape=(8, 8, 1)) is symbolic
    assert checks.check_images("x", images, (None, 8, 3), (3,)) is images


@pytest.mark.parametrize(
    "images, kwargs, match",
    [
        (
            np.zeros((8, 8, 1)),
            {},
            r"`x` must be a batch of images .*x\.shape=\(8, 8, 1\)",
        ),
        ("images", {}, r"Received: x\.shape=None"),
        (
            np.zeros((0, 8, 8, 1)),
            {"non_empty": True},
            r"non-empty batch.*\(0, 8, 8, 1\)",
        ),
        (
            np.zeros((2, 8, 8, 1)),
            {"shape": (28, 28, 1)},
            r"of shape \(batch, 28, 28, 1\)\. Received: x\.shape=\(2, 8, 8, 1\)",
        ),
        (
            np.zeros((2, 8, 8, 2)),
            {"channels": (1, 3)},
            r"`x` must have a known channel count in \(1, 3\).*x\.shape=\(2, 8, 8, 2\)",
        ),
    ],
)
def test_images_rejects(images, kwargs, match):
    with pytest.raises(ValueError, match=match):
        checks.check_images("x", images, **kwargs)


def test_labels():
    labels = checks.check_labels("y", [2, 0, 1])
    assert isinstance(labels, np.ndarray) and labels.tolist() == [2, 0, 1]
    int32 = np.array([1, 0], "int32")
    assert checks.check_labels("y", int32, num_examples=2).dtype == np.int32
    with pytest.raises(
        ValueError,
        match=r"`y` must be a 1-D array of integer class ids\. "
        r"Received: y with shape=\(2,\) and dtype=float64",
    ):
        checks.check_labels("y", [0.0, 1.0])
    with raises("y", "y with shape=(2, 1)"):
        checks.check_labels("y", [[0], [1]])
    with pytest.raises(
        ValueError, match=r"`y` must hold one label per example\. Received: 2 labels"
    ):
        checks.check_labels("y", [0, 1], num_examples=3)


def test_same_length():
    checks.check_same_length("x", [1, 2], "y", np.zeros(2))
    with pytest.raises(
        ValueError,
        match=r"Arguments `x` and `y` must have the same number of examples\. "
        r"Received: len\(x\)=2, len\(y\)=3",
    ):
        checks.check_same_length("x", [1, 2], "y", [0, 1, 2])


# Embeddings ---------------------------------------------------------------


def test_embeddings_returns_the_static_shape():
    assert checks.check_embeddings("z", np.zeros((4, 8))) == (4, 8)
    assert checks.check_embeddings("z", keras.Input((8,))) == (None, 8)
    # An unknown batch size passes any `min_batch`.
    assert checks.check_embeddings("z", keras.Input((8,)), min_batch=2) == (None, 8)


def test_embeddings_rejects_other_ranks_and_small_batches():
    with pytest.raises(
        ValueError,
        match=r"`z` must be a rank-2 tensor\. Expected embeddings of shape "
        r"\(batch, dim\)\. Received: z\.shape=\(8,\)",
    ):
        checks.check_embeddings("z", np.zeros((8,)))
    with pytest.raises(
        ValueError, match=r"`z` must have a batch size >= 2\. Received: z\.shape"
    ):
        checks.check_embeddings("z", np.zeros((1, 8)), min_batch=2)


def test_unnamed_embeddings():
    with pytest.raises(ValueError, match=r"The embeddings .*Received: shape=\(1, 8\)"):
        checks.check_embeddings(None, np.zeros((1, 8)), min_batch=2)


def test_same_shape_and_embedding_pairs():
    checks.check_same_shape("a", keras.Input((3,)), "b", np.zeros((5, 3)))
    with pytest.raises(
        ValueError,
        match=r"Arguments `a` and `b` must have the same shape\. "
        r"Received: a\.shape=\(2, 3\), b\.shape=\(2, 4\)",
    ):
        checks.check_same_shape("a", np.zeros((2, 3)), "b", np.zeros((2, 4)))
    with pytest.raises(ValueError, match="same shape"):
        checks.check_same_shape("a", np.zeros((2, 3)), "b", np.zeros((2, 3, 1)))
    z = np.zeros((4, 8))
    assert checks.check_embedding_pair("z1", z, "z2", z, min_batch=2) == (4, 8)
    with raises("z2", "z2.shape=(4,)"):
        checks.check_embedding_pair("z1", z, "z2", np.zeros((4,)))
    with pytest.raises(ValueError, match="same shape"):
        checks.check_embedding_pair("z1", z, "z2", np.zeros((4, 6)))


def test_static_shape():
    assert checks.static_shape(np.zeros((2, 3))) == (2, 3)
    assert checks.static_shape([[1, 2, 3]]) == (1, 3)
    assert checks.static_shape(keras.Input((5,))) == (None, 5)
    assert checks.static_shape(keras.ops.ones((2, 2))) == (2, 2)
