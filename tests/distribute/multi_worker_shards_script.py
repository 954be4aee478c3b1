"""One worker of a two-worker MultiWorkerMirroredStrategy run on TFRecord shards.

Run twice by `multi_worker_shards_test.py`, with `TF_CONFIG` naming this
worker. It pretrains a tiny SimCLR with `keras_ssl.app.pretrain` on the
shards in `FOUR_SHARDS` (`strategy="multi_worker"`, so the shard folder is
streamed and sharded between the workers), saves its final weights and
optimizer variables to `<out_dir>/worker<index>.npz`, then builds
distributed datasets the way Keras's `fit` does
(`strategy.experimental_distribute_dataset(data.batches(...,
num_workers=2))`) from shards whose labels are example ids, and records
the ids this worker gets at each step: one pass in file order from
`FOUR_SHARDS` (by file) and `ONE_SHARD` (by example), and the training
pipeline (shuffled, repeated) from step 0 and resumed at step
`RESUME_AT`. Prints its results as JSON.

Usage: multi_worker_shards_script.py OUT_DIR FOUR_SHARDS ONE_SHARD
"""

import json
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import distribute_helpers as helpers  # noqa: E402

from keras_ssl.app.pretrain import pretrain  # noqa: E402
from keras_ssl.datasets import stream_shards  # noqa: E402
from keras_ssl.distribute import num_workers  # noqa: E402

GLOBAL_BATCH = 16
STEPS = 3
TRAIN_STEPS = 6
RESUME_AT = 2

out_dir, four_shards, one_shard = sys.argv[1:4]
index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]


class Messages(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


messages = Messages()
logger = logging.getLogger("keras_ssl")
logger.addHandler(messages)
logger.setLevel(logging.INFO)

# pretrain builds the multi-worker strategy first thing, as a training
# program must (collective ops are configured when it is created).
result = pretrain(
    method="simclr",
    dataset=four_shards,
    output_dir=os.path.join(out_dir, f"runs{index}"),
    epochs=1,
    batch_size=GLOBAL_BATCH,
    steps_per_epoch=STEPS,
    strategy="multi_worker",
    verbose=0,
    model_kwargs={"widths": (8, 16)},
)
pretrain_messages = list(messages.messages)
model = result["model"]
weights_path = os.path.join(out_dir, f"worker{index}.npz")
helpers.save_values(weights_path, model)
strategy = model.distribute_strategy


def ids_per_step(data, steps=None, **kwargs):
    """The example ids this worker gets at each step, as Keras's `fit`
    distributes `data.batches(GLOBAL_BATCH, ..., num_workers=...)`."""
    ds = data.batches(GLOBAL_BATCH, num_workers=num_workers(strategy), **kwargs)
    iterator = iter(strategy.experimental_distribute_dataset(ds))
    seen = []
    while steps is None or len(seen) < steps:
        try:
            _, y = next(iterator)
        except StopIteration:
            break
        seen.append(
            sorted(
                int(i) for part in strategy.experimental_local_results(y) for i in part
            )
        )
    return seen


messages.messages.clear()
by_file, by_example = stream_shards(four_shards), stream_shards(one_shard)
one_pass = {"file": ids_per_step(by_file), "data": ids_per_step(by_example)}
train = dict(shuffle=True, seed=0, repeat=True, drop_remainder=True)
training, resumed = {}, {}
for policy, data in (("file", by_file), ("data", by_example)):
    training[policy] = ids_per_step(data, TRAIN_STEPS, **train)
    resumed[policy] = ids_per_step(
        data, TRAIN_STEPS - RESUME_AT, start_batch=RESUME_AT, **train
    )

helpers.print_results(
    {
        "index": index,
        "num_workers": num_workers(strategy),
        "replicas": strategy.num_replicas_in_sync,
        "strategy": type(strategy).__name__,
        "pretrain_log": pretrain_messages,
        "dataset_log": list(messages.messages),
        "history": result["history"],
        "weights_path": weights_path,
        "one_pass": one_pass,
        "training": training,
        "resumed": resumed,
        "resume_at": RESUME_AT,
    }
)
