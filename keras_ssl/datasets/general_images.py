"""General images available offline: crops of photographs and clip art.

Debian ships photographs as desktop wallpapers and drawings of objects as
clip art. Photographs are few but large: random crops at several scales,
resized to a small size, give many natural-image patches. Clip art gives
whole objects on a plain background. `load_general_images` turns both kinds
of folder into one array of small `uint8` images for a base model.
"""

import collections
import concurrent.futures
import itertools
import logging
import math
import os
import struct

import numpy as np
import tensorflow as tf

from keras_ssl.checks import (
    check_fraction,
    check_positive_int,
    check_seed,
    is_int,
)
from keras_ssl.datasets.labeled_data import LabeledData

logger = logging.getLogger("keras_ssl")

#: Files decoded (`tf.io.decode_image`: GIFs give their first frame).
DECODED_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
#: Image files skipped with a count in the log: TensorFlow has no SVG
#: rasterizer, and JPEG XL is rare in these packages.
SKIPPED_EXTENSIONS = (".svg", ".svgz", ".jxl")
#: Crops of a photograph: their side, as a fraction of the photograph's
#: shorter side, is log-uniform in this range (every scale octave as likely).
SCENE_SCALE = (0.08, 1.0)
#: Crops' aspect ratio (width / height) range, log-uniform.
SCENE_ASPECT = (3 / 4, 4 / 3)
#: An object fills this fraction of its (square) frame, at a random place.
OBJECT_FILL = (0.6, 1.0)
#: Alpha values at or below this count as transparent when trimming.
ALPHA_THRESHOLD = 16
#: Objects smaller than this (pixels a side, after trimming) are skipped.
MIN_OBJECT_SIDE = 4
#: Clip art is shrunk at once to a longer side of this many output sides.
OBJECT_SIDE = 16
#: Files with more pixels than this (read from the PNG or JPEG header
#: before decoding) are skipped, to bound memory.
MAX_PIXELS = 16_000_000
#: Files decoded ahead of the one being cropped (in threads; TensorFlow's
#: decoders release the GIL).
PREFETCH = 4


def _as_folders(name, roots):
    if roots is None:
        return []
    if isinstance(roots, str | os.PathLike):
        roots = [roots]
    try:
        roots = [os.fspath(r) for r in roots]
    except TypeError:
        raise ValueError(
            f"Argument `{name}` must be a folder or a list of folders. "
            f"Received: {name}={roots!r}"
        ) from None
    missing = [r for r in roots if not os.path.isdir(r)]
    if missing:
        raise FileNotFoundError(
            f"Argument `{name}` names folders that do not exist. Received: "
            f"{name}={roots!r}; missing: {missing}. Expected folders of images."
        )
    return roots


def find_image_files(roots):
    """The image files under `roots` (recursively), each once.

    Symbolic links to the same file count once (clip-art packages link one
    drawing into several categories). Files are sorted by path.

    Args:
        roots: a folder or a list of folders.

    Returns:
        `(files, skipped)`: the paths with a `DECODED_EXTENSIONS` extension,
        and the number of `SKIPPED_EXTENSIONS` files (SVG, JPEG XL) left
        out.
    """
    seen, files, skipped = set(), [], 0
    for root in _as_folders("roots", roots):
        for folder, dirs, names in os.walk(root, followlinks=False):
            dirs.sort()
            for name in sorted(names):
                lower = name.lower()
                if lower.endswith(SKIPPED_EXTENSIONS):
                    skipped += 1
                    continue
                if not lower.endswith(DECODED_EXTENSIONS):
                    continue
                path = os.path.join(folder, name)
                real = os.path.realpath(path)
                if real in seen or not os.path.isfile(real):
                    continue
                seen.add(real)
                files.append(path)
    return sorted(files), skipped


def _scale(height, width, shorter=None, longer=None):
    """The factor (<= 1) that brings the shorter side to at most `shorter`
    and the longer side to at most `longer` pixels."""
    scale = 1.0
    if shorter:
        scale = min(scale, shorter / min(height, width))
    if longer:
        scale = min(scale, longer / max(height, width))
    return scale


def _decode(path, shorter=None, longer=None):
    """`(rgb, alpha)` of one file: float32 `(h, w, 3)` in `[0, 255]`,
    premultiplied by alpha (transparent pixels are black), and float32
    `(h, w, 1)` in `[0, 1]` (`None` when the file is opaque); `None`
    for a file with more than `MAX_PIXELS` pixels (after a JPEG's reduced
    decoding) or one that does not decode.

    The image is shrunk (antialiased) so that its shorter side is at most
    `shorter` and its longer side at most `longer` pixels; a JPEG is
    decoded at a reduced size (`ratio` 2, 4 or 8) when that is at least
    as large as needed."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    try:
        if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
            width, height = struct.unpack(">II", data[16:24])
            if width * height > MAX_PIXELS:
                return None
        if bool(tf.io.is_jpeg(data)):
            height, width = (int(v) for v in tf.io.extract_jpeg_shape(data)[:2])
            scale = _scale(height, width, shorter, longer)
            ratio = 1
            while ratio < 8 and 2 * ratio * scale <= 1:
                ratio *= 2
            if (height // ratio) * (width // ratio) > MAX_PIXELS:
                return None
            image = tf.io.decode_jpeg(data, channels=3, ratio=ratio)
        else:
            image = tf.io.decode_image(data, expand_animations=False)
    except tf.errors.OpError:
        return None
    if image.shape[-1] in (1, 3):  # opaque
        opaque = tf.fill([*image.shape[:2], 1], tf.constant(255, tf.uint8))
        image = tf.concat([image, opaque], -1)
    image = tf.cast(image, tf.float32)
    alpha = image[..., -1:] / 255.0
    # Colours premultiplied by alpha: resizing then blends no colour of
    # transparent pixels into the edges, and compositing on a background
    # is `image + background * (1 - alpha)`.
    image = tf.repeat(image[..., :-1], 3 // (image.shape[-1] - 1), axis=-1) * alpha
    scale = _scale(image.shape[0], image.shape[1], shorter, longer)
    if scale < 1:
        size = [max(1, round(image.shape[0] * scale))]
        size.append(max(1, round(image.shape[1] * scale)))
        image = tf.image.resize(image, size, antialias=True)
        alpha = tf.image.resize(alpha, size, antialias=True)
    if float(tf.reduce_min(alpha)) >= 1.0:
        alpha = None
    return image, alpha


def _decoded(paths, **limits):
    """`(path, _decode(path, **limits))` in the order of `paths`, decoding
    up to `PREFETCH` files ahead in two threads (memory: at most
    `PREFETCH + 1` decoded, shrunk files at a time)."""
    paths = iter(paths)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        pending = collections.deque()
        for path in itertools.islice(paths, PREFETCH):
            pending.append((path, pool.submit(_decode, path, **limits)))
        try:
            while pending:
                path, future = pending.popleft()
                following = next(paths, None)
                if following is not None:
                    pending.append(
                        (following, pool.submit(_decode, following, **limits))
                    )
                yield path, future.result()
        finally:
            for _, future in pending:
                future.cancel()


def _to_uint8(images, channels):
    if channels == 1:
        images = tf.image.rgb_to_grayscale(images)
    return tf.cast(tf.clip_by_value(tf.round(images), 0, 255), tf.uint8).numpy()


def _scene_crops(image, k, size, rng):
    """`k` random square-ish crops of a photograph at several scales,
    resized to `size` x `size` (float32 RGB)."""
    height, width = image.shape[0], image.shape[1]
    short = min(height, width)
    low, high = SCENE_SCALE
    side = short * np.exp(rng.uniform(math.log(low), math.log(high), k))
    aspect = np.exp(rng.uniform(*np.log(SCENE_ASPECT), k))
    crop_w = np.minimum(side * np.sqrt(aspect), width)
    crop_h = np.minimum(side / np.sqrt(aspect), height)
    top = rng.uniform(0, 1, k) * (height - crop_h)
    left = rng.uniform(0, 1, k) * (width - crop_w)
    boxes = np.stack(
        [
            top / max(height - 1, 1),
            left / max(width - 1, 1),
            (top + crop_h - 1) / max(height - 1, 1),
            (left + crop_w - 1) / max(width - 1, 1),
        ],
        axis=1,
    ).astype("float32")
    # Bilinear sampling aliases when it shrinks by more than 2: each crop is
    # taken from the level of an (antialiased) half-size pyramid at which it
    # is between `size` and `2 * size` pixels a side. Normalized boxes are
    # the same at every level.
    level = np.floor(np.log2(np.maximum(np.minimum(crop_h, crop_w) / size, 1.0)))
    level = level.astype(int)
    out = np.zeros((k, size, size, 3), "float32")
    current = image
    for depth in range(int(level.max()) + 1):
        if depth:
            half = [max(1, current.shape[0] // 2), max(1, current.shape[1] // 2)]
            current = tf.image.resize(current, half, antialias=True)
        chosen = np.flatnonzero(level == depth)
        if len(chosen):
            crops = tf.image.crop_and_resize(
                current[None],
                boxes[chosen],
                np.zeros(len(chosen), "int32"),
                (size, size),
            )
            out[chosen] = crops.numpy()
    return out


def _object_crops(image, alpha, k, size, rng):
    """`k` framings of one drawn object: trimmed to its opaque pixels,
    composited on black or white (at random), placed at a random position
    in a square frame it fills `OBJECT_FILL` of; `size` x `size` float32
    RGB, or `None` when nothing is left after trimming."""
    if alpha is not None:
        mask = alpha[..., 0].numpy() > ALPHA_THRESHOLD / 255.0
        rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        if not len(rows):
            return None
        image = image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        alpha = alpha[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    height, width = image.shape[0], image.shape[1]
    if min(height, width) < MIN_OBJECT_SIDE:
        return None
    # Shrink (antialiased) to at most twice the output size first, so the
    # bilinear framing below never shrinks by more than 2.
    longest = max(height, width)
    if longest > 2 * size:
        shape = [max(1, round(height * 2 * size / longest))]
        shape.append(max(1, round(width * 2 * size / longest)))
        image = tf.image.resize(image, shape, antialias=True)
        if alpha is not None:
            alpha = tf.image.resize(alpha, shape, antialias=True)
        height, width = shape
    fill = rng.uniform(*OBJECT_FILL, k)
    frame = max(height, width) / fill
    top = -rng.uniform(0, 1, k) * (frame - height)
    left = -rng.uniform(0, 1, k) * (frame - width)
    boxes = np.stack(
        [
            top / max(height - 1, 1),
            left / max(width - 1, 1),
            (top + frame - 1) / max(height - 1, 1),
            (left + frame - 1) / max(width - 1, 1),
        ],
        axis=1,
    ).astype("float32")
    white = rng.uniform(0, 1, k) < 0.5
    out = np.zeros((k, size, size, 3), "float32")
    for background in (0.0, 255.0):
        chosen = np.flatnonzero(white == (background > 0))
        if not len(chosen):
            continue
        drawn = image
        if alpha is not None:
            drawn = image + background * (1.0 - alpha)
        crops = tf.image.crop_and_resize(
            drawn[None],
            boxes[chosen],
            np.zeros(len(chosen), "int32"),
            (size, size),
            extrapolation_value=background,
        )
        out[chosen] = crops.numpy()
    return out


def _check_arguments(image_size, count, channels, object_fraction, max_side):
    image_size = check_positive_int("image_size", image_size)
    if image_size < 8:
        raise ValueError(
            "Argument `image_size` must be at least 8 (pixels a side). "
            f"Received: image_size={image_size}"
        )
    count = check_positive_int("count", count)
    if not is_int(channels) or channels not in (1, 3):
        raise ValueError(
            "Argument `channels` must be 1 (greyscale) or 3 (RGB). "
            f"Received: channels={channels!r}"
        )
    object_fraction = check_fraction("object_fraction", object_fraction)
    max_side = check_positive_int("max_side", max_side)
    if max_side < image_size:
        raise ValueError(
            "Argument `max_side` must be at least `image_size`. Received: "
            f"max_side={max_side}, image_size={image_size}"
        )
    return image_size, count, int(channels), object_fraction, max_side


def load_general_images(
    scenes=(),
    objects=(),
    image_size=32,
    count=20000,
    channels=3,
    object_fraction=0.5,
    seed=0,
    max_side=640,
):
    """Small general images from folders of photographs and of clip art.

    Two kinds of folder, searched recursively for PNG, JPEG, BMP, GIF (first
    frame) and WebP files (SVG and JPEG XL files are skipped and counted in
    the log; undecodable files are skipped with a warning):

    - `scenes`: photographs (wallpapers). Each gives random crops at several
      scales (side log-uniform between 8% and 100% of the photograph's
      shorter side, aspect ratio 3:4 to 4:3), resized to `image_size`
      without aliasing (each crop is taken from a half-size pyramid level
      at most twice its output size). A photograph is shrunk at once to a
      shorter side of `max_side` (large JPEGs are decoded at a reduced
      size), and dropped as soon as its crops are taken: memory holds one
      photograph at a time, plus the output.
    - `objects`: drawings of objects (clip art). Each is trimmed to its
      opaque pixels, composited on black or white (at random) and placed
      at a random position in a square frame it fills 60-100% of.

    `object_fraction` of the `count` images come from `objects` (all of
    them when there are no `scenes`, none when there are no `objects`),
    spread evenly over the files of each kind in a seeded random order: a
    file gives `ceil(remaining / files left)` images, so few files give
    many crops each, and with more files than images only the first
    `count` files are decoded. A file that fails to decode hands its share
    to the files after it.

    Args:
        scenes: a folder, or a list of folders, of photographs.
        objects: a folder, or a list of folders, of clip art.
        image_size: side of the square output images, in pixels (>= 8).
        count: number of images.
        channels: 1 (greyscale, ITU-R 601 luma) or 3 (RGB).
        object_fraction: the fraction of images taken from `objects`, in
            `[0, 1]`.
        seed: seed of the file order, the crops and the final shuffle; the
            same arguments give the same array.
        max_side: photographs are shrunk to this shorter side first.

    Returns:
        A shuffled `LabeledData` of `uint8` images `(count, image_size,
        image_size, channels)`, without labels, named `"general_images"`
        (fewer images only when too few files decode).

    Raises:
        FileNotFoundError: a folder does not exist, or no image file is
            found in any folder.
        ValueError: a bad argument, or no image could be decoded.

    Example:

    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> photo = np.random.default_rng(0).integers(0, 256, (96, 128, 3))
    >>> tf.io.write_file(f"{root}/photo.png", tf.io.encode_png(photo.astype("uint8")))
    >>> data = load_general_images(scenes=root, image_size=16, count=10)
    >>> data.x.shape, data.x.dtype.name, data.y
    ((10, 16, 16, 3), 'uint8', None)
    """
    image_size, count, channels, object_fraction, max_side = _check_arguments(
        image_size, count, channels, object_fraction, max_side
    )
    seed = check_seed("seed", seed)
    scene_roots = _as_folders("scenes", scenes)
    object_roots = _as_folders("objects", objects)
    if not scene_roots and not object_roots:
        raise ValueError(
            "Arguments `scenes` and `objects` are both empty. Expected at "
            "least one folder of photographs or of clip art."
        )
    scene_files, skipped_scenes = find_image_files(scene_roots)
    object_files, skipped_objects = find_image_files(object_roots)
    skipped = skipped_scenes + skipped_objects
    if not scene_files and not object_files:
        raise FileNotFoundError(
            "No image file (PNG, JPEG, BMP, GIF or WebP) found. Received: "
            f"scenes={scene_roots!r}, objects={object_roots!r}"
            + (f" ({skipped} SVG / JPEG XL file(s) skipped)" if skipped else "")
            + ". Expected folders holding image files (searched recursively)."
        )
    if skipped:
        logger.info("General images: %d SVG / JPEG XL file(s) skipped.", skipped)
    if not scene_files:
        n_objects = count
    elif not object_files:
        n_objects = 0
    else:
        n_objects = round(count * object_fraction)
    rng = np.random.default_rng(seed)
    out = np.zeros((count, image_size, image_size, channels), "uint8")
    filled, failed, used = 0, [], {"scenes": 0, "objects": 0}
    for kind, files, target in (
        ("scenes", scene_files, count - n_objects),
        ("objects", object_files, n_objects),
    ):
        order = rng.permutation(len(files))
        remaining = target
        paths = [files[i] for i in order] if target > 0 else []
        # Photographs: a shorter side of `max_side`; drawings: a longer side
        # of `OBJECT_SIDE` output sides (room for an object drawn small).
        limits = (
            {"shorter": max_side}
            if kind == "scenes"
            else {"longer": OBJECT_SIDE * image_size}
        )
        for position, (path, decoded) in enumerate(_decoded(paths, **limits)):
            if remaining <= 0:
                break
            k = -(-remaining // (len(files) - position))
            crops = None
            if decoded is not None:
                image, alpha = decoded
                if kind == "scenes":
                    crops = _scene_crops(image, k, image_size, rng)
                else:
                    crops = _object_crops(image, alpha, k, image_size, rng)
            if crops is None:
                failed.append(path)
                continue
            out[filled : filled + k] = _to_uint8(crops, channels)
            filled += k
            remaining -= k
            used[kind] += 1
    if failed:
        logger.warning(
            "General images: %d file(s) skipped (undecodable or empty), e.g. %s.",
            len(failed),
            failed[0],
        )
    if filled == 0:
        raise ValueError(
            f"None of the {len(scene_files) + len(object_files)} image files "
            f"decoded. Received: scenes={scene_roots!r}, objects="
            f"{object_roots!r}. Expected PNG, JPEG, BMP, GIF or WebP images."
        )
    logger.info(
        "General images: %d crops of %d photographs and %d clip-art drawings.",
        filled,
        used["scenes"],
        used["objects"],
    )
    x = out[:filled][rng.permutation(filled)]
    return LabeledData(x, None, None, name="general_images")
