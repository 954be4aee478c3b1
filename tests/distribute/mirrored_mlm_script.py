"""MLM on MirroredStrategy over two logical CPUs vs one device.

Run by `mirrored_mlm_test.py` in a fresh process (logical devices must be
configured before TensorFlow initialises); prints its results as JSON.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import distribute_helpers as helpers  # noqa: E402

helpers.use_two_logical_cpus()

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

STEPS = 2
GLOBAL_BATCH = 16


def build():
    model = helpers.with_content_masker(helpers.tiny_mlm(seed=0))
    model.compile(optimizer=keras.optimizers.SGD(0.5), jit_compile=False)
    return model


def train(model):
    ids = helpers.token_ids(GLOBAL_BATCH * STEPS)
    return helpers.fit_in_order(model, ids, GLOBAL_BATCH)


strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
single = build()
s_before, s_after, s_history = train(single)
with strategy.scope():
    multi = build()
m_before, m_after, m_history = train(multi)
helpers.print_results(
    {
        "replicas": strategy.num_replicas_in_sync,
        "masker": type(multi.masker).__name__,
        "single_history": s_history,
        "multi_history": m_history,
        **helpers.compare_runs(single, multi, s_before, s_after, m_before, m_after),
    }
)
