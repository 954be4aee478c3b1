"""`pretrain`'s data options (`image_size`, `color_mode`, `stream`) reach the
loader of a folder, in memory and streamed, and misplaced ones are errors."""

import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.app import pretrain
from keras_ssl.datasets import from_arrays


@pytest.fixture
def rgb_folder(tmp_path):
    rng = np.random.default_rng(0)
    for label in ("a", "b"):
        (tmp_path / "images" / label).mkdir(parents=True)
        for i in range(8):
            image = rng.integers(0, 256, (10, 10, 3), dtype=np.uint8)
            png = tf.io.encode_png(image)
            tf.io.write_file(str(tmp_path / "images" / label / f"{i}.png"), png)
    return str(tmp_path / "images")


@pytest.mark.parametrize("stream", [False, True])
def test_color_mode_and_image_size_reach_the_folder_loader(
    tmp_path, rgb_folder, stream
):
    result = pretrain(
        "simclr",
        rgb_folder,
        output_dir=str(tmp_path / "runs"),
        epochs=1,
        batch_size=8,
        steps_per_epoch=1,
        verbose=0,
        stream=stream,
        image_size=(12, 12),
        color_mode="rgb",
        model_kwargs={"widths": (4, 8)},
    )
    assert tuple(result["model"].encoder.inputs[0].shape[1:]) == (12, 12, 3)


def test_misplaced_data_options_are_clear_errors(tmp_path, rgb_folder):
    data = from_arrays(np.zeros((16, 12, 12), np.uint8))
    with pytest.raises(ValueError, match=r"apply to a dataset given by name or path"):
        pretrain("simclr", data, output_dir=str(tmp_path), color_mode="rgb")
    with pytest.raises(ValueError, match=r"do not apply to dataset='wordnet'"):
        pretrain("mlm", "wordnet", output_dir=str(tmp_path), image_size=(8, 8))
    with pytest.raises(ValueError, match=r"color_mode.*'rgb'"):
        pretrain("simclr", rgb_folder, output_dir=str(tmp_path), color_mode="RGB")
