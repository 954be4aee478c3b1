"""Picks the TensorBoard monitoring callbacks that fit a model."""

import os

import numpy as np

from keras_ssl.callbacks import _monitoring as m
from keras_ssl.callbacks.augmented_view_images import (
    AugmentedViewImages,
    image_augmenter,
)
from keras_ssl.callbacks.embedding_projector import EmbeddingProjector
from keras_ssl.callbacks.generated_text import GeneratedText
from keras_ssl.callbacks.knn_monitor import KNNMonitor
from keras_ssl.callbacks.masked_token_text import MaskedTokenText
from keras_ssl.callbacks.reconstruction_images import ReconstructionImages
from keras_ssl.checks import check_choice, check_seed
from keras_ssl.models.ssl_model import SSLModel

#: Sub-folders of `log_dir` (TensorBoard runs) the callbacks write to.
MONITOR_RUN = "monitor"
PROJECTOR_RUN = "projector"


def _views(x, monitor_dir, *, max_images, every, seed, **_):
    return AugmentedViewImages(
        x, monitor_dir, max_images=max_images, every=every, seed=seed
    )


def _reconstructions(x, monitor_dir, *, max_images, every, seed, **_):
    return ReconstructionImages(
        x, monitor_dir, max_images=max_images, every=every, seed=seed
    )


def _masked_tokens(x, monitor_dir, *, max_texts, every, seed, **_):
    return MaskedTokenText(
        x[:max_texts], monitor_dir, max_texts=max_texts, every=every, seed=seed
    )


def _generated_text(x, monitor_dir, *, max_texts, prompt_words, every, seed, **_):
    prompts = _prompts(m.text_list(x[:max_texts], "sample[0]"), prompt_words)
    return GeneratedText(prompts, monitor_dir, every=every, seed=seed)


#: The image / text panels: name -> function `(x, monitor_dir, *,
#: max_images, max_texts, prompt_words, every, seed)` building the callback.
PANELS = {
    "views": _views,
    "reconstructions": _reconstructions,
    "masked_tokens": _masked_tokens,
    "generated_text": _generated_text,
}


def _auto_panel(model):
    """The panel that fits `model`, from what it can do."""
    if image_augmenter(model) is not None:  # augmented image views
        return "views"
    if callable(getattr(model, "reconstruct", None)) or callable(
        getattr(model, "encode_visible", None)
    ):  # an image decoder
        return "reconstructions"
    if hasattr(model, "masker") and hasattr(model, "mlm_head"):  # masked tokens
        return "masked_tokens"
    if callable(getattr(model, "generate", None)):  # a text generator
        return "generated_text"
    return None


def _panel_builder(panel, model):
    if panel == "auto":
        panel = _auto_panel(model)
    if panel is None or callable(panel):
        return panel
    check_choice("panel", panel, ["auto", *PANELS])
    return PANELS[panel]


def _split_labelled(labelled, query_fraction, seed):
    """`(x_train, y_train, x_test, y_test)` from a 2- or 4-tuple."""
    if not isinstance(labelled, tuple | list) or len(labelled) not in (2, 4):
        raise ValueError(
            "Argument `labelled` must be None, `(x, y)` (split into a kNN "
            "bank and queries) or `(x_train, y_train, x_test, y_test)`. "
            f"Received: labelled of type {type(labelled).__name__}"
            + (
                f" of length {len(labelled)}"
                if isinstance(labelled, tuple | list)
                else ""
            )
        )
    if len(labelled) == 4:
        return tuple(labelled)
    x = m.check_inputs(labelled[0], "labelled[0]")
    y = m.label_array(labelled[1], len(x), "labelled[1]")
    if len(x) < 2:
        raise ValueError(
            "Argument `labelled` must hold at least 2 examples (a bank and a "
            f"query). Received: {len(x)}"
        )
    order = np.random.default_rng(seed).permutation(len(x))
    num_queries = min(max(round(query_fraction * len(x)), 1), len(x) - 1)
    query, bank = order[:num_queries], order[num_queries:]
    return x[bank], y[bank], x[query], y[query]


def _prompts(texts, num_words):
    """The first `num_words` words of each text (whole texts when shorter)."""
    return [" ".join(text.split()[:num_words]) or text for text in texts]


def monitoring_callbacks(
    model,
    log_dir,
    *,
    panel="auto",
    labelled=None,
    sample=None,
    label_names=None,
    knn_k=20,
    knn_query_fraction=0.25,
    every=1,
    projector_every=None,
    max_images=8,
    max_texts=8,
    prompt_words=3,
    seed=0,
):
    """The TensorBoard monitoring callbacks that fit `model`.

    Place the returned callbacks *before* `keras.callbacks.TensorBoard(
    log_dir)` in the `fit` callback list: that callback then writes the
    `knn_accuracy` the first one adds to the epoch logs (as the scalar
    `epoch_knn_accuracy` of the `train` run, next to the loss, the method's
    metrics, `learning_rate` and the collapse diagnostics).

    Rules, in the order of the returned list:

    1. `labelled` given: `KNNMonitor` (any model), every `every` epochs.
    2. `sample` given, the image or text `panel` written to
       `log_dir/monitor` every `every` epochs, from the first `max_images`
       images or `max_texts` texts of the sample:
       - `"views"`: `AugmentedViewImages` (an image model with an
         augmenter: SimCLR, MoCo, BYOL, SimSiam, BarlowTwins, VICReg,
         TripletModel, DeepCluster);
       - `"reconstructions"`: `ReconstructionImages` (`Autoencoder`,
         `MaskedAutoencoder`);
       - `"masked_tokens"`: `MaskedTokenText` (`MaskedLanguageModel` with
         or without NSP, `ReplacedTokenDetection`);
       - `"generated_text"`: `GeneratedText` continuing the first
         `prompt_words` words of each text (`CausalLanguageModel`);
       - `None`: no panel (e.g. RotationPrediction, SimCSE).

       `panel="auto"` picks by what the model can do, in that order: an
       image augmenter (views), a `reconstruct` or `encode_visible` method
       (reconstructions), a token masker and MLM head (masked tokens), a
       `generate` method (generated text), else none. The pretraining
       workflow passes the panel its method's recipe names
       (`keras_ssl.recipes`).
    3. `sample` given: `EmbeddingProjector` of the whole sample (any model)
       to `log_dir/projector`, at the end of training (and every
       `projector_every` epochs when set).

    With neither `labelled` nor `sample` the list is empty: the workflow's
    scalars are all there is.

    Args:
        model: the `SSLModel` being trained.
        log_dir: the TensorBoard log folder of the run (the one given to
            `keras.callbacks.TensorBoard`).
        panel: `"auto"`, one of `PANELS` (`"views"`, `"reconstructions"`,
            `"masked_tokens"`, `"generated_text"`), `None` (no panel) or a
            function `(x, monitor_dir, **options) -> callback` (options:
            `max_images`, `max_texts`, `prompt_words`, `every`, `seed`).
        labelled: `None`, `(x, y)` (split at random with `seed` into a kNN
            bank and `knn_query_fraction` of queries) or
            `(x_train, y_train, x_test, y_test)`; images or raw texts with
            int class ids. Keep it small (a few thousand examples): it is
            embedded after every evaluated epoch.
        sample: `None` or `(x, labels)`: held-out images or raw texts and
            their int class ids (`labels` may be `None`).
        label_names: class names for the Projector's metadata.
        knn_k: neighbours of the kNN vote.
        knn_query_fraction: share of a 2-tuple `labelled` used as queries.
        every: evaluate kNN and write the image/text panels every `every`
            epochs.
        projector_every: `None` (Projector at the end only) or an int.
        max_images: images shown per panel.
        max_texts: texts shown per table.
        prompt_words: words of each text kept as a `GeneratedText` prompt.
        seed: seed of the split, views, masks and noise.

    Returns:
        A list of `keras.callbacks.Callback`.

    Example:

    >>> callbacks = monitoring_callbacks(  # doctest: +SKIP
    ...     model, "runs/simclr/logs",
    ...     labelled=(x[:2500], y[:2500]), sample=(x_held[:500], y_held[:500]))
    >>> model.fit(data, epochs=5, callbacks=[
    ...     *callbacks, keras.callbacks.TensorBoard("runs/simclr/logs")]
    ... )  # doctest: +SKIP
    """
    if not isinstance(model, SSLModel):
        raise ValueError(
            "Argument `model` must be a keras_ssl SSLModel. "
            f"Received: model of type {type(model).__name__}"
        )
    log_dir = m.check_log_dir(log_dir)
    every = m.check_every(every)
    m.check_positive_int("max_images", max_images)
    m.check_positive_int("max_texts", max_texts)
    if (
        not isinstance(knn_query_fraction, int | float)
        or isinstance(knn_query_fraction, bool)
        or not 0 < knn_query_fraction < 1
    ):
        raise ValueError(
            "Argument `knn_query_fraction` must be in (0, 1). "
            f"Received: knn_query_fraction={knn_query_fraction!r}"
        )
    m.check_positive_int("prompt_words", prompt_words)
    seed = check_seed(seed)
    build_panel = _panel_builder(panel, model)
    callbacks = []
    if labelled is not None:
        x_train, y_train, x_test, y_test = _split_labelled(
            labelled, knn_query_fraction, seed
        )
        callbacks.append(
            KNNMonitor(x_train, y_train, x_test, y_test, k=knn_k, every=every)
        )
    if sample is None:
        return callbacks
    if not isinstance(sample, tuple | list) or len(sample) != 2:
        raise ValueError(
            "Argument `sample` must be None or a tuple `(x, labels)` (labels "
            f"may be None). Received: sample of type {type(sample).__name__}"
        )
    x, labels = sample
    x = m.check_inputs(x, "sample[0]")
    monitor_dir = os.path.join(log_dir, MONITOR_RUN)
    if build_panel is not None:
        options = {
            "max_images": max_images,
            "max_texts": max_texts,
            "prompt_words": prompt_words,
            "every": every,
            "seed": seed,
        }
        callbacks.append(build_panel(x, monitor_dir, **options))
    callbacks.append(
        EmbeddingProjector(
            x,
            labels,
            os.path.join(log_dir, PROJECTOR_RUN),
            label_names=label_names,
            every=projector_every,
        )
    )
    return callbacks
