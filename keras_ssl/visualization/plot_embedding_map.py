import numbers

import numpy as np

from keras_ssl.visualization._figure import check_png_path, new_figure, save_png

METHODS = ("tsne", "pca", "umap")
_PCA_DIM = 50


def plot_embedding_map(
    embeddings,
    labels,
    path,
    label_names=None,
    method="tsne",
    max_points=2000,
    seed=0,
    normalize=True,
    title=None,
):
    """Draws a 2-D map of embeddings, one dot per example coloured by its label.

    At most `max_points` examples (a seeded random subset) are mapped to 2-D
    with t-SNE (scikit-learn; inputs above 50 dimensions are first reduced
    to 50 with PCA, the usual speed-up), PCA, or UMAP (needs the
    `umap-learn` package). Classes that separate into islands on the map
    are classes a kNN or linear probe can tell apart.

    Args:
        embeddings: array `(num_examples, dim)` of finite numbers, `dim >= 2`
            (e.g. `keras_ssl.evaluation.embed(model.encoder, images)`).
        labels: integer class ids `(num_examples,)`, `>= 0`.
        path: where to write the PNG (must end in `.png`; its folder is
            created).
        label_names: optional class names, `label_names[i]` naming class
            `i`, shown in the legend.
        method: `"tsne"` (default), `"pca"` or `"umap"`.
        max_points: the most examples mapped (t-SNE takes about 10 s for
            2,000 on two CPU cores).
        seed: seed of the subset and of t-SNE / UMAP.
        normalize: scale each embedding to unit length first, so the map
            follows cosine similarity, as kNN evaluation does.
        title: optional title; defaults to the method and number of points.

    Returns:
        `path`.

    Example:

    >>> features = np.random.default_rng(0).normal(size=(40, 8))
    >>> labels = np.repeat(np.arange(4), 10)
    >>> plot_embedding_map(features, labels, "map.png", method="pca")
    'map.png'

    On a trained encoder (not run here):

    >>> from keras_ssl.evaluation import embed  # doctest: +SKIP
    >>> features = embed(model.encoder, test.x[:2000] / 255)  # doctest: +SKIP
    >>> plot_embedding_map(features, test.y[:2000], "map.png",  # doctest: +SKIP
    ...                    label_names=test.label_names)
    'map.png'

    Reference:
        - [van der Maaten & Hinton, 2008](https://jmlr.org/papers/v9/vandermaaten08a.html)
    """
    x = _embeddings(embeddings)
    y = _labels(labels, len(x))
    names = _label_names(label_names, y)
    if method not in METHODS:
        raise ValueError(
            f"Argument `method` must be one of {METHODS}. Received: method={method!r}"
        )
    for arg, value in (("max_points", max_points), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ValueError(
                f"Argument `{arg}` must be an int. Received: {arg}={value!r}"
            )
    if max_points < 3 or seed < 0:
        raise ValueError(
            "Arguments `max_points` must be >= 3 and `seed` >= 0. "
            f"Received: max_points={max_points!r}, seed={seed!r}"
        )
    if method == "umap":
        try:
            import umap
        except ImportError as e:
            raise ImportError(
                "method='umap' needs the umap-learn package "
                "(pip install umap-learn); method='tsne' needs only scikit-learn."
            ) from e
    path = check_png_path(path)

    if len(x) > max_points:
        keep = np.sort(
            np.random.default_rng(seed).choice(len(x), max_points, replace=False)
        )
        x, y = x[keep], y[keep]
    if normalize:
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    from sklearn.decomposition import PCA

    if method == "pca":
        points = PCA(2, random_state=seed).fit_transform(x)
    elif method == "tsne":
        from sklearn.manifold import TSNE
        from threadpoolctl import threadpool_limits

        if x.shape[1] > _PCA_DIM and len(x) > _PCA_DIM:
            x = PCA(_PCA_DIM, random_state=seed).fit_transform(x)
        tsne = TSNE(
            2,
            perplexity=min(30.0, (len(x) - 1) / 3),
            init="pca",
            learning_rate="auto",
            random_state=seed,
        )
        # One OpenMP thread: each of t-SNE's 1,000 iterations is a parallel
        # region, and on a busy machine its threads wait for each other.
        # Measured on 2 shared cores under load: 2,000 points took 101 s
        # with one thread, 257 s with two.
        with threadpool_limits(limits=1, user_api="openmp"):
            points = tsne.fit_transform(x)
    else:
        points = umap.UMAP(random_state=seed).fit_transform(x)

    classes = np.unique(y)
    colours = _colours(int(y.max()) + 1)
    figure = new_figure(7.5 if len(classes) <= 12 else 9.5, 6)
    ax = figure.subplots()
    for c in classes:
        mask = y == c
        ax.scatter(
            points[mask, 0],
            points[mask, 1],
            s=6,
            alpha=0.8,
            color=colours[c],
            label=names[c] if names is not None else str(c),
            linewidths=0,
        )
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(
        loc="center left",
        bbox_to_anchor=(1.0, 0.5),
        fontsize="small" if len(classes) <= 12 else "x-small",
        ncol=1 if len(classes) <= 24 else 2,
        markerscale=2.5,
        frameon=False,
    )
    label = {"tsne": "t-SNE", "pca": "PCA", "umap": "UMAP"}[method]
    ax.set_title(title or f"{label} of {len(x)} embeddings, coloured by label")
    return save_png(figure, path)


def _embeddings(embeddings):
    try:
        x = np.asarray(embeddings, dtype="float64")
    except (TypeError, ValueError):
        raise ValueError(
            "Argument `embeddings` must be a numeric array (num_examples, dim). "
            f"Received: {type(embeddings).__name__}"
        ) from None
    if x.ndim != 2 or len(x) < 3 or x.shape[1] < 2:
        raise ValueError(
            "Argument `embeddings` must be a 2-D array (num_examples, dim) with "
            f"at least 3 examples and dim >= 2. Received: shape={x.shape}"
        )
    if not np.isfinite(x).all():
        raise ValueError(
            "Argument `embeddings` must be finite. Received: "
            f"{int((~np.isfinite(x)).any(axis=1).sum())} rows with NaN or inf"
        )
    return x


def _labels(labels, num):
    y = np.asarray(labels)
    if y.dtype.kind == "f" and y.size and np.all(np.mod(y, 1) == 0):
        y = y.astype("int64")
    if y.ndim != 1 or y.dtype.kind not in "iu" or len(y) != num:
        raise ValueError(
            "Argument `labels` must be a 1-D array of integer class ids, one "
            f"per embedding ({num}). Received: shape={y.shape}, dtype={y.dtype}"
        )
    if y.min() < 0:
        raise ValueError(
            f"Argument `labels` must be >= 0. Received: a label {int(y.min())}"
        )
    return y.astype("int64")


def _label_names(label_names, y):
    if label_names is None:
        return None
    if isinstance(label_names, str) or not hasattr(label_names, "__len__"):
        raise ValueError(
            "Argument `label_names` must be a list of class names. "
            f"Received: label_names={label_names!r}"
        )
    names = [str(n) for n in label_names]
    if len(names) <= int(y.max()):
        raise ValueError(
            "Argument `label_names` must name every class: "
            f"{len(names)} names for labels up to {int(y.max())}."
        )
    return names


def _colours(num):
    from matplotlib import colormaps

    if num <= 10:
        return [colormaps["tab10"](i) for i in range(num)]
    if num <= 20:
        return [colormaps["tab20"](i) for i in range(num)]
    cmap = colormaps["turbo"]
    return [cmap(i / max(num - 1, 1)) for i in range(num)]
