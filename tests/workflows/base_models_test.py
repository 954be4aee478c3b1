"""`build_base_model` / `keras-ssl build-base`: a base text model saved as a
keras-hub preset in the cache, reused once built (tiny settings)."""

import keras_hub
import numpy as np

from keras_ssl.app import base_models
from keras_ssl.app.cli import main
from keras_ssl.datasets import LabeledData

TEXTS = np.array(
    ["the cat sat on the mat", "a dog ran in the park", "rain fell on the town"] * 8,
    dtype=object,
)


def test_build_base_writes_a_cached_keras_hub_preset(tmp_path, monkeypatch, capsys):
    tiny = dict(base_models.BASE_MODELS["text"])
    tiny.update(
        model_kwargs={"vocabulary_size": 50, "sequence_length": 12},
        batch_size=8,
        epochs=1,
        time_budget=60,
    )
    monkeypatch.setitem(base_models.BASE_MODELS, "text", tiny)
    monkeypatch.setattr(base_models, "fetch_austen", lambda cache_dir=None: None)
    seen = {}

    def corpus(austen_root=None, seed=0):
        seen["austen_root"] = austen_root
        return LabeledData(TEXTS, np.zeros(len(TEXTS), "int32"), ["t"], name="t")

    monkeypatch.setattr(base_models, "load_general_text", corpus)
    args = ["build-base", "--cache-dir", str(tmp_path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Building the text base model" in out and "time budget 1 min" in out
    preset = base_models.base_model_path("text", str(tmp_path))
    backbone = keras_hub.models.Backbone.from_preset(preset)
    assert isinstance(backbone, keras_hub.models.BertBackbone)
    tokenizer = keras_hub.models.Tokenizer.from_preset(preset)
    assert tokenizer.token_to_id("[MASK]") == 4
    # Cached: a second call trains nothing.
    again = base_models.build_base_model("text", cache_dir=str(tmp_path))
    assert again == {"preset": preset, "built": False}
    assert seen == {"austen_root": None}
