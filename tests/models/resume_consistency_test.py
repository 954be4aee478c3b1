"""`.keras` save → load → more training vs the same training uninterrupted.

For SimCLR (tiny conv encoder, `ViewAugmenter` with three seeded
`SeedGenerator`s) and the masked language model (tiny Transformer with
dropout 0.1, `TokenMasker` with a seeded `SeedGenerator`; keras-hub's
dropout layers have unseeded ones), each run trains N + M steps on one fixed
list of batches, fed identically with `train_on_batch`:

- uninterrupted: N + M steps on one model;
- resumed: N steps, `model.save(...keras)`, `keras.models.load_model`, M more
  steps on the loaded model.

What the `.keras` file preserves, checked exactly (bit for bit): every weight
(trainable and batch-norm moving statistics), the compile config, every
optimizer variable (`iterations` included) and the state of every
`keras.random.SeedGenerator` (augmentation, masking, dropout). Keras 3 saves
only trainable and non-trainable variables, so `SSLModel.save_own_variables`
adds the generator states; without them a loaded model would replay the
augmentations / masks of step 1 (seeded generators restart at `[seed, 0]`)
and unseeded ones (keras-hub dropout) would draw a fresh seed. So the resumed
run reproduces the uninterrupted one exactly: same losses (float32
equality, no tolerance) and same final weights.

Each model trains in a fresh Python process with
`tf.config.experimental.enable_op_determinism()` (global, so it must not
leak into the other tests).
"""

import json
import os
import subprocess
import sys

import pytest

N_STEPS, M_STEPS = 3, 3

SCRIPT = """
import json
import os
import sys
import tempfile

import keras_ssl  # noqa: F401  (TensorFlow backend)
import keras
import numpy as np
import tensorflow as tf

tf.config.experimental.enable_op_determinism()

from keras_ssl.encoders import conv_encoder, transformer_encoder
from keras_ssl.models import MaskedLanguageModel, SimCLR
from keras_ssl.tokenizers import TextPreprocessor, train_word_piece_vocabulary

KIND, N, M = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
CORPUS = [
    "a small cat sat on the mat",
    "the dog ran in the park",
    "birds fly over the sea",
    "a cat and a dog play",
    "the sea is blue and the sky is grey",
    "the small bird sang in the tree",
]
rng = np.random.default_rng(0)
if KIND == "simclr":
    batches = [
        rng.integers(0, 256, (8, 8, 8, 1), dtype=np.uint8) for _ in range(N + M)
    ]
else:
    preprocessor = TextPreprocessor(
        train_word_piece_vocabulary(CORPUS, 40), sequence_length=8
    )
    ids = preprocessor(tf.constant(CORPUS)).numpy()
    batches = [ids[rng.permutation(len(ids))[:4]] for _ in range(N + M)]


def build():
    keras.utils.set_random_seed(0)
    if KIND == "simclr":
        encoder = conv_encoder((8, 8, 1), widths=(4, 8))
        model = SimCLR(
            encoder, projection_dim=4, projection_hidden_dims=(8,),
            temperature=0.5, seed=0,
        )
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
    else:
        encoder = transformer_encoder(
            preprocessor.vocabulary_size, 8, hidden_dim=16, num_layers=1,
            num_heads=2, intermediate_dim=32, dropout=0.1,
        )
        model = MaskedLanguageModel(encoder, preprocessor, seed=0)
        model.compile(optimizer=keras.optimizers.AdamW(1e-2))
    return model


def train(model, batches):
    return [
        float(model.train_on_batch(b, return_dict=True)["loss"]) for b in batches
    ]


def seed_states(model):
    # `Layer.variables` lists SeedGenerator states; `Layer.weights` does not.
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


def values(variables):
    return [np.array(v) for v in variables]


def equal(a, b):
    return len(a) == len(b) and all(
        x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b)
    )


uninterrupted = build()
full = train(uninterrupted, batches)

first = build()
first_losses = train(first, batches[:N])
path = os.path.join(tempfile.mkdtemp(), "model.keras")
first.save(path)
saved_states = values(seed_states(first))

loaded = keras.models.load_model(path)
report = {
    "full": full,
    "first": first_losses,
    "weights_restored": equal(values(first.weights), values(loaded.weights)),
    "optimizer_restored": equal(
        values(first.optimizer.variables), values(loaded.optimizer.variables)
    ),
    "iterations": [int(first.optimizer.iterations), int(loaded.optimizer.iterations)],
    "seeds": [s.tolist() for s in saved_states],
    "seeds_after_load": [s.tolist() for s in values(seed_states(loaded))],
}
report["resumed_without_help"] = train(loaded, batches[N:])

restored = keras.models.load_model(path)
targets = seed_states(restored)
assert [t.shape for t in targets] == [s.shape for s in saved_states]
for target, state in zip(targets, saved_states):
    target.assign(state)
report["resumed_with_seed_states"] = train(restored, batches[N:])
report["final_weights_equal"] = equal(
    values(uninterrupted.weights), values(restored.weights)
)
print("REPORT " + json.dumps(report))
"""


@pytest.fixture(scope="module", params=["simclr", "mlm"])
def report(request, tmp_path_factory):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, request.param, str(N_STEPS), str(M_STEPS)],
        cwd=tmp_path_factory.mktemp(request.param),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    (line,) = [x for x in result.stdout.splitlines() if x.startswith("REPORT ")]
    return json.loads(line.removeprefix("REPORT "))


def test_same_seed_same_first_steps(report):
    assert report["first"] == report["full"][:N_STEPS]
    assert len(report["full"]) == N_STEPS + M_STEPS


def test_keras_file_restores_weights_and_optimizer_exactly(report):
    assert report["weights_restored"]
    assert report["optimizer_restored"]
    assert report["iterations"] == [N_STEPS, N_STEPS]


def test_seed_generator_states_are_in_the_keras_file(report):
    seeds, after = report["seeds"], report["seeds_after_load"]
    assert seeds, "the model has SeedGenerators"
    assert all(counter > 0 for _, counter in seeds)  # they advanced in training
    assert after == seeds


def test_resumed_losses_match_with_seed_states_restored(report):
    # Exact: same float32 losses, bit for bit, and same final weights.
    assert report["resumed_with_seed_states"] == report["full"][N_STEPS:]
    assert report["final_weights_equal"]


def test_resumed_losses_match_without_help(report):
    # Exact: a plain save → load → fit continues the same random streams.
    assert report["resumed_without_help"] == report["full"][N_STEPS:]
