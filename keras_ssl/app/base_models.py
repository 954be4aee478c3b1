"""General base models built from the offline data, saved as keras-hub presets.

`keras-ssl build-base` (or `build_base_model()`) pretrains a small general
text encoder on general English text (`keras_ssl.datasets.load_general_text`:
WordNet verb/adjective/adverb glosses, fortune cookies, Jane Austen's
novels; the WordNet noun glosses are held out, they are the transfer task)
and saves it as a keras-hub preset in the cache. Continue pretraining it on
your own text with `keras-ssl pretrain --method mlm --init-from PRESET`.

`keras-ssl build-base --name image` (`build_base_model("image")`) does the
same for images: a small keras-hub ResNet pretrained with SimCLR on crops
of the photographs and clip art Debian ships
(`keras_ssl.datasets.load_general_images`), continued with
`keras-ssl pretrain --method simclr --init-from PRESET`.
"""

import logging
import os
import shutil
import subprocess
import tempfile

import keras_hub

from keras_ssl.app.pretrain import pretrain
from keras_ssl.checks import check_name, check_positive
from keras_ssl.compat import seed_scope
from keras_ssl.datasets.general_images import find_image_files, load_general_images
from keras_ssl.datasets.general_text import load_general_text
from keras_ssl.encoders import image_encoder_from_backbone, save_to_preset

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
    "image": {
        "method": "simclr",
        # A keras-hub ResNet (so the result is a keras-hub preset): a 3x3
        # stem of 64, max pooling, then one basic block per stage of 64,
        # 128 and 256 channels (28x28 images: 14, 7, 7, 4 and 2 pixels a
        # side), global average pooling to 256 numbers; 1.2 M parameters.
        "backbone": {
            "input_conv_filters": [64],
            "input_conv_kernel_sizes": [3],
            "stackwise_num_filters": [64, 128, 256],
            "stackwise_num_blocks": [1, 1, 1],
            "stackwise_num_strides": [1, 2, 2],
            "block_type": "basic_block",
        },
        # Pixels in [0, 255] to [-1, 1]; no resizing, so the preset takes
        # any image size.
        "converter": {"scale": 1 / 127.5, "offset": -1.0},
        "images": {
            "image_size": 28,
            "channels": 1,
            "count": 40000,
            "object_fraction": 0.5,
        },
        "model_kwargs": {},
        "batch_size": 256,
        "learning_rate": 2e-3,
        "epochs": 100,
        "time_budget": 600,
        "description": "ResNet 64-128-256 (keras-hub), SimCLR",
    },
}

#: The Debian packages of the general images: `(package, folder kept,
#: kind)`; `"scenes"` are photographs (cropped at several scales),
#: `"objects"` clip art (whole drawings).
IMAGE_PACKAGES = (
    ("lomiri-wallpapers-16.04", "usr/share/backgrounds", "scenes"),
    ("lomiri-wallpapers-20.04", "usr/share/backgrounds", "scenes"),
    ("mate-backgrounds", "usr/share/backgrounds/mate/nature", "scenes"),
    ("openclipart-png", "usr/share/openclipart/png", "objects"),
)
#: Clip-art categories left out: patterns, flags and maps, signs and
#: symbols (few objects).
CLIPART_SKIPPED = (
    "buttons",
    "geography",
    "logos",
    "shapes",
    "signs_and_symbols",
    "special",
)


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


def _unpack_package(package, root, keep=None):
    """Unpacks Debian's `package` (`apt-get download` + `dpkg-deb -x`, no
    install) into `root`, keeping only its folder `keep` when given;
    returns `root`, or `None` with a warning when that fails."""
    if os.path.isdir(root):
        return root
    os.makedirs(os.path.dirname(root), exist_ok=True)
    with tempfile.TemporaryDirectory(dir=os.path.dirname(root)) as tmp:
        try:
            subprocess.run(
                ["apt-get", "download", package],
                cwd=tmp,
                check=True,
                capture_output=True,
            )
            (deb,) = [f for f in os.listdir(tmp) if f.endswith(".deb")]
            unpacked = os.path.join(tmp, "unpacked")
            subprocess.run(
                ["dpkg-deb", "-x", os.path.join(tmp, deb), unpacked],
                check=True,
                capture_output=True,
            )
            source = os.path.join(unpacked, keep) if keep else unpacked
            if not os.path.isdir(source):
                raise ValueError(f"{package} has no folder {keep!r}")
            os.replace(source, root)
        except (OSError, subprocess.CalledProcessError, ValueError) as e:
            logger.warning("%s skipped (apt-get download: %s).", package, e)
            return None
    return root


def fetch_austen(cache_dir=None):
    """Unpacks Debian's `r-cran-janeaustenr` into the cache (without
    installing it, which would pull in R); returns the folder, or `None`
    with a warning when `apt-get download` is not available."""
    root = os.path.join(cache_directory(cache_dir), "janeaustenr")
    if os.path.isdir(os.path.join(root, "usr")):
        return root
    return _unpack_package("r-cran-janeaustenr", root)


def fetch_general_images(cache_dir=None):
    """Unpacks the Debian packages of the general images into the cache.

    `IMAGE_PACKAGES`: the photographs of `lomiri-wallpapers-16.04`,
    `lomiri-wallpapers-20.04` and the `nature` wallpapers of
    `mate-backgrounds`, and the clip art of `openclipart-png` (every
    category but `CLIPART_SKIPPED`): about 205 MB to download, of which
    about 195 MB stay in the cache under `base/images/`. Nothing is
    installed; a package that cannot be fetched (no `apt-get`, no network
    or mirror) is skipped with a warning.

    Args:
        cache_dir: cache root (see `cache_directory`).

    Returns:
        `{"scenes": [folders], "objects": [folders]}` for
        `keras_ssl.datasets.load_general_images`.
    """
    roots = {"scenes": [], "objects": []}
    for package, keep, kind in IMAGE_PACKAGES:
        root = os.path.join(cache_directory(cache_dir), "images", package)
        folder = _unpack_package(package, root, keep)
        if folder is None:
            continue
        if kind == "objects":
            roots[kind] += [
                os.path.join(folder, name)
                for name in sorted(os.listdir(folder))
                if name not in CLIPART_SKIPPED
                and os.path.isdir(os.path.join(folder, name))
            ]
        else:
            roots[kind].append(folder)
    return roots


def image_base_encoder(input_shape=(28, 28, 1), recipe=None, seed=0):
    """The (untrained) encoder of the image base model: the recipe's
    keras-hub `ResNetBackbone` (any image size, RGB) and its
    `ResNetImageConverter`, wrapped by `image_encoder_from_backbone` for
    images of `input_shape` (greyscale is repeated to RGB in the model).

    Args:
        input_shape: `(height, width, channels)` of the images.
        recipe: the recipe (default `BASE_MODELS["image"]`).
        seed: seed of the initial weights.

    Returns:
        A functional `keras.Model` from images in `[0, 1]` to vectors.
    """
    recipe = recipe or BASE_MODELS["image"]
    with seed_scope(seed):
        backbone = keras_hub.models.ResNetBackbone(
            **recipe["backbone"], image_shape=(None, None, 3)
        )
    converter = keras_hub.layers.ResNetImageConverter(
        image_size=None, **recipe["converter"]
    )
    return image_encoder_from_backbone(
        backbone, input_shape, image_converter=converter, name="image_base_encoder"
    )


def _text_corpus(recipe, cache_dir, seed):
    data = load_general_text(austen_root=fetch_austen(cache_dir), seed=seed)
    return data, f"{len(data):,} texts", {"num_texts": len(data)}


def _image_corpus(recipe, cache_dir, seed):
    roots = fetch_general_images(cache_dir)
    settings = recipe["images"]
    photos = len(find_image_files(roots["scenes"])[0]) if roots["scenes"] else 0
    drawings = len(find_image_files(roots["objects"])[0]) if roots["objects"] else 0
    size = settings["image_size"]
    print(
        f"Preparing {settings['count']:,} general images of {size}x{size} "
        f"from {photos} photographs and {drawings:,} clip-art drawings "
        "(a few minutes)..."
    )
    data = load_general_images(roots["scenes"], roots["objects"], seed=seed, **settings)
    what = (
        f"{len(data):,} images ({size}x{size}, "
        f"{'RGB' if settings['channels'] == 3 else 'greyscale'}: crops of "
        f"{photos} photographs and {drawings:,} clip-art drawings)"
    )
    return data, what, {"num_images": len(data), "photos": photos, "drawings": drawings}


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

    `"text"`: `BASE_MODELS["text"]` on `load_general_text` (fetching Jane
    Austen's novels first). `"image"`: the packages of `IMAGE_PACKAGES` are
    fetched (`fetch_general_images`), `load_general_images` crops them
    (`BASE_MODELS["image"]["images"]`: 40,000 greyscale 28x28 images, half
    photograph crops, half clip art; a few minutes on two cores), and
    `image_base_encoder` (a keras-hub ResNet) is pretrained on them. Both
    print what they train on and the time budget; Keras shows a progress
    bar (`verbose="auto"`).

    Args:
        name: a key of `BASE_MODELS` (`"text"` or `"image"`).
        cache_dir: cache root (see `cache_directory`).
        time_budget: seconds of pretraining (default: the recipe's).
        force: rebuild even when the preset exists.
        verbose: Keras verbosity (`"auto"`: a progress bar).
        output_dir: where the pretraining run folder goes (default: a
            temporary folder, removed afterwards).
        seed: the run's seed.

    Returns:
        A dict: `preset` (the folder), `steps`, `seconds`, the final
        pretext metrics, the data's size (`num_texts`, or `num_images`,
        `photos` and `drawings`) and `built` (`False` when it was already
        there, with only `preset`).

    Example:

    ```python
    built = build_base_model("image")  # ~15 min on two cores, then cached
    pretrain("simclr", init_from=built["preset"], time_budget=300)
    load_image_encoder(built["preset"], input_shape=(28, 28, 1))
    ```
    """
    path = base_model_path(name, cache_dir)
    if os.path.isdir(path) and not force:
        return {"preset": path, "built": False}
    check_positive("time_budget", time_budget, allow_none=True)
    recipe = dict(BASE_MODELS[name])
    budget = time_budget or recipe["time_budget"]
    image = "images" in recipe
    corpus = _image_corpus if image else _text_corpus
    data, what, counts = corpus(recipe, cache_dir, seed)
    encoder = recipe.get("encoder")
    if image:
        encoder = image_base_encoder(data.x.shape[1:], recipe, seed)
    logger.info(
        "Building base model %r: %s on %s, about %.0f min.",
        *(name, recipe["description"], what, budget / 60),
    )
    print(
        f"Building the {name} base model: {recipe['description']} on "
        f"{what}; time budget {budget / 60:.0f} min."
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
            encoder=encoder,
        )
        model = result["model"]
        if os.path.isdir(path):
            shutil.rmtree(path)
        preprocessor = None if image else model.preprocessor
        save_to_preset(model.encoder, path, preprocessor=preprocessor)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    pretext = {k: v for k, v in result.items() if k.endswith("accuracy")}
    return {
        "preset": path,
        "built": True,
        "steps": result["steps"],
        "seconds": result["seconds"],
        **counts,
        **pretext,
    }
