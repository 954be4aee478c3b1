"""General base models built from the offline data, saved as keras-hub presets.

`keras-ssl build-base` (or `build_base_model()`) pretrains a small general
text encoder on general English text (`keras_ssl.datasets.load_general_text`:
WordNet verb/adjective/adverb glosses, fortune cookies, Jane Austen's
novels; the WordNet noun glosses are held out, they are the transfer task)
and saves it as a keras-hub preset in the cache. Continue pretraining it on
your own text with `keras-ssl pretrain --method mlm --init-from PRESET`.
"""

import logging
import os
import shutil
import subprocess
import tempfile

from keras_ssl.app.pretrain import pretrain
from keras_ssl.checks import check_name, check_positive
from keras_ssl.datasets.general_text import load_general_text
from keras_ssl.encoders import save_to_preset

logger = logging.getLogger("keras_ssl")

#: The recipes of the base models: method, encoder, settings and budget.
BASE_MODELS = {
    "text": {
        "method": "mlm",
        "encoder": "bert_tiny",
        # Passages average 20 words: 32 tokens hold most of them whole, and
        # the MLM head's cost grows with the sequence length.
        "model_kwargs": {
            "mask_rate": 0.4,
            "sequence_length": 32,
            "vocabulary_size": 6000,
        },
        "batch_size": 128,
        "learning_rate": 2e-3,
        "epochs": 10,
        "time_budget": 1500,
        "description": "BERT 2x128 (keras-hub), MLM on general English text",
    },
}


def cache_directory(cache_dir=None):
    """Where base models are kept: `cache_dir`, `$KERAS_SSL_CACHE` or
    `~/.cache/keras_ssl`, plus `base/`."""
    root = cache_dir or os.environ.get("KERAS_SSL_CACHE")
    root = root or os.path.join(os.path.expanduser("~"), ".cache", "keras_ssl")
    return os.path.join(root, "base")


def base_model_path(name="text", cache_dir=None):
    """The preset folder of base model `name` (built or not)."""
    check_name("name", name, BASE_MODELS)
    return os.path.join(cache_directory(cache_dir), f"{name}_v1")


def fetch_austen(cache_dir=None):
    """Unpacks Debian's `r-cran-janeaustenr` into the cache (without
    installing it, which would pull in R); returns the folder, or `None`
    with a warning when `apt-get download` is not available."""
    root = os.path.join(cache_directory(cache_dir), "janeaustenr")
    if os.path.isdir(os.path.join(root, "usr")):
        return root
    os.makedirs(os.path.dirname(root), exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            subprocess.run(
                ["apt-get", "download", "r-cran-janeaustenr"],
                cwd=tmp,
                check=True,
                capture_output=True,
            )
            (deb,) = [f for f in os.listdir(tmp) if f.endswith(".deb")]
            subprocess.run(
                ["dpkg-deb", "-x", os.path.join(tmp, deb), root + ".tmp"],
                check=True,
                capture_output=True,
            )
        except (OSError, subprocess.CalledProcessError, ValueError) as e:
            logger.warning("Jane Austen's novels skipped (apt-get download: %s).", e)
            return None
    os.replace(root + ".tmp", root)
    return root


def build_base_model(
    name="text",
    cache_dir=None,
    time_budget=None,
    force=False,
    verbose="auto",
    output_dir=None,
    seed=0,
):
    """Pretrains base model `name` and saves it as a keras-hub preset.

    Args:
        name: a key of `BASE_MODELS`.
        cache_dir: cache root (see `cache_directory`).
        time_budget: seconds of pretraining (default: the recipe's).
        force: rebuild even when the preset exists.
        verbose: Keras verbosity (`"auto"`: a progress bar).
        output_dir: where the pretraining run folder goes (default: a
            temporary folder, removed afterwards).
        seed: the run's seed.

    Returns:
        A dict: `preset` (the folder), `steps`, `seconds`, the final
        pretext metrics and `built` (`False` when it was already there).
    """
    path = base_model_path(name, cache_dir)
    if os.path.isdir(path) and not force:
        return {"preset": path, "built": False}
    check_positive("time_budget", time_budget, allow_none=True)
    recipe = dict(BASE_MODELS[name])
    budget = time_budget or recipe["time_budget"]
    data = load_general_text(austen_root=fetch_austen(cache_dir), seed=seed)
    logger.info(
        "Building base model %r: %s on %d general texts, about %.0f min.",
        *(name, recipe["description"], len(data), budget / 60),
    )
    print(
        f"Building the {name} base model: {recipe['description']} on "
        f"{len(data):,} texts; time budget {budget / 60:.0f} min."
    )
    tmp = None if output_dir else tempfile.mkdtemp(prefix="keras_ssl_base_")
    try:
        result = pretrain(
            recipe["method"],
            data,
            output_dir=output_dir or tmp,
            epochs=recipe["epochs"],
            batch_size=recipe["batch_size"],
            learning_rate=recipe["learning_rate"],
            time_budget=budget,
            seed=seed,
            verbose=verbose,
            model_kwargs=dict(recipe["model_kwargs"]),
            encoder=recipe["encoder"],
        )
        model = result["model"]
        if os.path.isdir(path):
            shutil.rmtree(path)
        save_to_preset(model.encoder, path, preprocessor=model.preprocessor)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    pretext = {k: v for k, v in result.items() if k.endswith("accuracy")}
    return {
        "preset": path,
        "built": True,
        "steps": result["steps"],
        "seconds": result["seconds"],
        "num_texts": len(data),
        **pretext,
    }
