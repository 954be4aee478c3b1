"""MoCo, BYOL and triplet on MirroredStrategy (two logical CPUs) vs one device.

Run by `mirrored_methods_test.py` in a fresh process (logical devices must
be configured before TensorFlow initialises); prints its results as JSON.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import distribute_helpers as helpers  # noqa: E402

helpers.use_two_logical_cpus()

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_ssl.encoders import conv_encoder  # noqa: E402
from keras_ssl.models import BYOL, MoCo, TripletModel  # noqa: E402

GLOBAL_BATCH = 16
# The 2nd and 3rd steps of MoCo and BYOL read the queue / EMA target that
# the 1st wrote. Triplet mining picks one negative per anchor, a choice that
# float32 noise (summation order in the synchronized batch norm) can flip
# once weights drift apart over several steps: one step compares it.
STEPS = {"moco": 3, "byol": 3, "triplet:semi_hard": 1, "triplet:batch_hard": 1}


def build(method):
    keras.utils.set_random_seed(0)
    encoder = conv_encoder((8, 8, 1), widths=(4, 8))
    common = dict(projection_dim=4, projection_hidden_dims=(8,))
    if method == "moco":
        model = MoCo(
            encoder, queue_size=64, base_momentum=0.5, temperature=0.5, **common
        )
    elif method == "byol":
        model = BYOL(encoder, predictor_hidden_dim=8, base_momentum=0.5, **common)
    else:
        model = TripletModel(encoder, mining=method.split(":")[1], **common)
    object.__setattr__(model, "augmenter", helpers.AlternatingViews())
    model.compile(optimizer=keras.optimizers.SGD(0.5), jit_compile=False)
    return model


def train(model, steps):
    images = helpers.images(GLOBAL_BATCH * steps)
    return helpers.fit_in_order(model, images, GLOBAL_BATCH)


strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
results = {"replicas": strategy.num_replicas_in_sync}
for method in STEPS:
    single = build(method)
    s_before, s_after, s_history = train(single, STEPS[method])
    with strategy.scope():
        multi = build(method)
    m_before, m_after, m_history = train(multi, STEPS[method])
    results[method] = {
        "single_history": s_history,
        "multi_history": m_history,
        **helpers.compare_runs(single, multi, s_before, s_after, m_before, m_after),
    }
helpers.print_results(results)
