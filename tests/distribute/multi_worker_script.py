"""One worker of a two-worker MultiWorkerMirroredStrategy SimCLR run.

Run twice by `multi_worker_test.py`, with `TF_CONFIG` naming this worker;
writes its final weights to `<out_dir>/worker<index>.weights.h5` and prints
its results as JSON.

Usage: multi_worker_script.py OUT_DIR
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import distribute_helpers as helpers  # noqa: E402

from keras_ssl.distribute import setup  # noqa: E402

GLOBAL_BATCH = 16
STEPS = 3

out_dir = sys.argv[1]
index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
# First thing: collective ops are configured when the strategy is built.
strategy, jit_compile = setup("multi_worker", batch_size=GLOBAL_BATCH)

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

with strategy.scope():
    model = helpers.tiny_simclr(seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=jit_compile)
before = helpers.weight_values(model)

options = tf.data.Options()
options.experimental_distribute.auto_shard_policy = (
    tf.data.experimental.AutoShardPolicy.DATA
)
# uint8 images, as the workflows feed them (see
# SSLModel._maybe_symbolic_build).
data = (
    tf.data.Dataset.from_tensor_slices(helpers.images(GLOBAL_BATCH * STEPS))
    .batch(GLOBAL_BATCH)
    .with_options(options)
)
history = model.fit(data, epochs=1, verbose=0)
after = helpers.weight_values(model)
path = os.path.join(out_dir, f"worker{index}.weights.h5")
model.save_weights(path)
helpers.print_results(
    {
        "index": index,
        "replicas": strategy.num_replicas_in_sync,
        "multi_worker": isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy),
        "jit_compile": jit_compile,
        "history": history.history,
        "weights_path": path,
        "moved": [
            w.path
            for w, a, b in zip(model.weights, before, after)
            if float(abs(a - b).max()) > 0
        ],
        "trainable": [w.path for w in model.trainable_weights],
    }
)
