"""The demo: SimCLR on Fashion-MNIST and MLM on WordNet glosses, end to end."""

import os
import time

import keras
import numpy as np

from keras_ssl.app.base_models import base_model_path
from keras_ssl.app.evaluate import evaluate_images, evaluate_text
from keras_ssl.app.export import export
from keras_ssl.app.pretrain import pretrain
from keras_ssl.app.run_directory import make_run_directory, write_json
from keras_ssl.datasets import load
from keras_ssl.evaluation import embed, format_results_table

# Test images on the embedding map: t-SNE of 2,000 points takes ~20-30 s
# on two CPU cores and still shows every class.
MAP_POINTS = 2000
# Training curves: the logs of every 5th step.
LOG_EVERY = 5


class StepLog(keras.callbacks.Callback):
    """Records training curves: each metric's mean over every `every` steps.

    Keras logs running means over the current epoch, which jump when they
    restart at an epoch boundary. For metrics that keep a running total and
    count (the loss and Keras `Mean`-type metrics) this records the exact
    mean over the last `every` steps instead, from the differences of those
    totals; other metrics are recorded as logged.

    Args:
        every: steps per recorded point.
    """

    def __init__(self, every=LOG_EVERY):
        super().__init__()
        self.every = every
        self.steps, self.records = [], []
        self._count = 0
        self._last = {}

    def on_epoch_begin(self, epoch, logs=None):
        self._last = {}  # Keras resets the metrics at each epoch start

    def on_train_batch_end(self, batch, logs=None):
        self._count += 1
        if not logs or self._count % self.every:
            return
        record = {k: float(v) for k, v in logs.items() if np.ndim(v) == 0}
        for metric in self.model.metrics:
            total = getattr(metric, "total", None)
            count = getattr(metric, "count", None)
            if metric.name not in record or total is None or count is None:
                continue
            now = (float(np.sum(total.numpy())), float(np.sum(count.numpy())))
            before = self._last.get(metric.name, (0.0, 0.0))
            self._last[metric.name] = now
            if now[1] > before[1]:
                record[metric.name] = (now[0] - before[0]) / (now[1] - before[1])
        self.steps.append(self._count)
        self.records.append(record)

    def curve(self):
        """`plot_history` arguments; `None` before `every` steps."""
        if not self.records:
            return None
        return {"history": self.records, "x": self.steps, "x_label": "step"}


def write_demo_figures(
    figures_dir,
    curves,
    rows,
    embeddings=None,
    labels=None,
    label_names=None,
    seed=0,
):
    """Writes the demo's PNG figures into `figures_dir`.

    - `loss_<name>.png` for each `curves[name]`, a dict of
      `keras_ssl.visualization.plot_history` arguments (`history`, and
      optionally `x`, `x_label`): the loss and the other training metrics;
    - `embedding_map_simclr.png`: a t-SNE map of `embeddings` coloured by
      `labels` (when `embeddings` is given);
    - `baselines.png`: the result `rows` as bars, SSL encoder vs random-init
      encoder vs raw-input baseline.

    Returns:
        The paths written, in that order.
    """
    from keras_ssl.visualization import (
        plot_baseline_bars,
        plot_embedding_map,
        plot_history,
    )

    titles = {
        "simclr": "SimCLR on Fashion-MNIST: pretraining curves",
        "mlm": "Masked language model on WordNet glosses: pretraining curves",
    }
    paths = []
    for name, curve in curves.items():
        paths.append(
            plot_history(
                path=os.path.join(figures_dir, f"loss_{name}.png"),
                title=titles.get(name, f"{name}: pretraining curves"),
                **curve,
            )
        )
    if embeddings is not None:
        paths.append(
            plot_embedding_map(
                embeddings,
                labels,
                os.path.join(figures_dir, "embedding_map_simclr.png"),
                label_names=label_names,
                max_points=MAP_POINTS,
                seed=seed,
                title=f"t-SNE of SimCLR embeddings of {min(len(labels), MAP_POINTS)} "
                "Fashion-MNIST test images",
            )
        )
    paths.append(
        plot_baseline_bars(
            rows,
            os.path.join(figures_dir, "baselines.png"),
            title="SSL encoder vs random-init encoder vs raw input",
        )
    )
    return paths


def _image_part(output_dir, export_dir, seconds, seed, verbose, log, figures):
    """SimCLR on Fashion-MNIST: pretrain, evaluate, export (and map inputs)."""
    print("== 1/2 SimCLR on Fashion-MNIST (60k images) ==")
    vision = pretrain(
        "simclr",
        "fashion_mnist",
        output_dir=output_dir,
        epochs=8,
        time_budget=seconds,
        seed=seed,
        verbose=verbose,
        monitor=True,  # TensorBoard: kNN accuracy, view grids, Projector
        callbacks=[log],
    )
    print(f"pretrained {vision['steps']} steps in {vision['seconds']:.0f} s")
    print("evaluating: linear probe, kNN (SSL, random-init, raw pixels) ...")
    rows = evaluate_images(vision["model"], log_dir=vision["log_dir"], seed=seed)
    path = export(vision["model"], "fashion_mnist_simclr", export_dir)
    map_inputs = {}
    if figures:
        test = load("fashion_mnist", split="test").subset(MAP_POINTS, seed=seed)
        map_inputs = {
            "embeddings": embed(
                vision["model"].encoder, test.x.astype("float32") / 255.0
            ),
            "labels": test.y,
            "label_names": test.label_names,
        }
    return vision, rows, path, map_inputs


def _text_part(output_dir, export_dir, seconds, seed, verbose, log):
    """MLM on WordNet glosses: pretrain (continuing the general base model
    when it is built), evaluate, export."""
    base = base_model_path("text")
    start = {}
    if os.path.isdir(base):
        print("== 2/2 Masked language model on WordNet glosses (117k), continuing")
        print(f"   the general base model {base} (a keras-hub BERT preset) ==")
        start["init_from"] = base
    else:
        print("== 2/2 Masked language model on WordNet glosses (117k) ==")
        print(
            "   (from scratch: `make base-models` builds the general base model "
            "once, and the demo then continues it)"
        )
    text = pretrain(
        "mlm",
        "wordnet",
        output_dir=output_dir,
        epochs=3,
        time_budget=seconds,
        seed=seed,
        verbose=verbose,
        # Predicting 40% of the tokens gives more signal per step than 15%
        # (Wettig et al., 2023, https://arxiv.org/abs/2202.08005); measured
        # here it also fine-tunes better after a 4-minute budget.
        model_kwargs={"mask_rate": 0.4},
        monitor=True,  # TensorBoard: kNN accuracy, masked tokens, Projector
        callbacks=[log],
        **start,
    )
    print(f"pretrained {text['steps']} steps in {text['seconds']:.0f} s")
    print(
        "evaluating: fine-tune on noun semantic fields (SSL, random-init), TF-IDF ..."
    )
    rows = evaluate_text(text["model"], log_dir=text["log_dir"], seed=seed)
    return text, rows, export(text["model"], "wordnet_mlm", export_dir)


def run_demo(
    output_dir="runs",
    export_dir="saved_models",
    image_seconds=100,
    text_seconds=240,
    verbose="auto",
    seed=0,
    figures=True,
):
    """Pretrains, evaluates and exports one image and one text model.

    Budgets are wall-clock seconds of pretraining (the evaluation adds a few
    minutes on two CPU cores). Prints a table of SSL encoder vs random-init
    encoder vs raw-input baseline and returns the result rows. A demo folder
    `output_dir/demo-<stamp>/` gets `demo_results.json` and, with `figures`,
    the PNGs of `write_demo_figures` (pretraining curves, a t-SNE map of the
    SimCLR embeddings of test images, the results as bars).
    """
    start = time.monotonic()
    logs = {"simclr": StepLog(), "mlm": StepLog()}
    vision, rows, image_export, map_inputs = _image_part(
        output_dir, export_dir, image_seconds, seed, verbose, logs["simclr"], figures
    )
    text, text_rows, text_export = _text_part(
        output_dir, export_dir, text_seconds, seed, verbose, logs["mlm"]
    )
    rows += text_rows
    results = {
        "rows": rows,
        "simclr": {k: vision[k] for k in ("run_dir", "steps", "seconds", "loss")},
        "mlm": {
            k: text[k] for k in ("run_dir", "steps", "seconds", "loss", "mlm_accuracy")
        },
        "exports": [image_export, text_export],
        "total_seconds": time.monotonic() - start,
    }
    demo_dir = make_run_directory(output_dir, "demo")
    results_path = os.path.join(demo_dir, "demo_results.json")
    write_json(results_path, results)
    print("")
    print(format_results_table(rows))
    print("")
    wins = sum(r["ssl"] > r["random_init"] for r in rows)
    print(f"SSL encoder beats its random-init twin on {wins}/{len(rows)} rows.")
    if figures:
        print("drawing figures (t-SNE of the SimCLR test embeddings) ...")
        # Every LOG_EVERY steps; the per-epoch history for very short runs.
        curves = {
            name: log.curve() or {"history": result["history"]}
            for (name, log), result in zip(logs.items(), (vision, text))
        }
        paths = write_demo_figures(demo_dir, curves, rows, seed=seed, **map_inputs)
        results["figures"] = paths
        results["total_seconds"] = time.monotonic() - start
        write_json(results_path, results)
        names = ", ".join(os.path.basename(p) for p in paths)
        print(f"Figures: {demo_dir}/ ({names})")
    print(f"TensorBoard: tensorboard --logdir {output_dir}")
    print(f"Exports (TF Serving layout): {image_export}  {text_export}")
    print(f"Results JSON: {results_path}")
    print(f"Total time: {results['total_seconds']:.0f} s")
    return results
