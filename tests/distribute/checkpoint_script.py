"""Checkpoints across strategies, the MirroredStrategy side.

Run by `cross_strategy_checkpoint_test.py` in a fresh process with two
logical CPU devices. Reads the files the test wrote on one device and
checks them under MirroredStrategy, then trains a model under
MirroredStrategy and writes `.keras`, `.weights.h5` and `.npz` files for the
test to restore on one device (from the restored model after one more
step under MirroredStrategy).

Usage: checkpoint_script.py FOLDER
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import distribute_helpers as helpers  # noqa: E402

helpers.use_two_logical_cpus()

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

folder = sys.argv[1]
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
images = helpers.images(16)
results = {"replicas": strategy.num_replicas_in_sync}

# One device -> mirrored.
weights, optimizer = helpers.load_values(os.path.join(folder, "one_device.npz"))
with strategy.scope():
    restored = keras.saving.load_model(os.path.join(folder, "one_device.keras"))
results["keras_file"] = {
    "mirrored": isinstance(restored.weights[0].value, tf.distribute.DistributedValues),
    "weights_diff": helpers.max_diff(helpers.weight_values(restored), weights),
    "optimizer_diff": helpers.max_diff(restored.optimizer.variables, optimizer),
    "iterations": int(restored.optimizer.iterations.numpy()),
}
before = helpers.weight_values(restored)
history = restored.fit(images, batch_size=16, epochs=1, verbose=0).history
results["keras_file"]["continued_loss"] = history["loss"]
results["keras_file"]["moved"] = helpers.max_diff(
    helpers.weight_values(restored), before
)
with strategy.scope():
    model = helpers.tiny_simclr(seed=1)
    model.load_weights(os.path.join(folder, "one_device.weights.h5"))
results["weights_file_diff"] = helpers.max_diff(helpers.weight_values(model), weights)

# Mirrored -> files for one device: the restored model, trained on.
restored.save(os.path.join(folder, "mirrored.keras"))
restored.save_weights(os.path.join(folder, "mirrored.weights.h5"))
helpers.save_values(os.path.join(folder, "mirrored.npz"), restored)
helpers.print_results(results)
