"""Triplet learning on augmented views, with in-batch mining."""

import keras
from keras import ops

from keras_ssl.cross_replica import gather_from_replicas
from keras_ssl.losses._distances import masked_max, masked_min, pairwise_distance
from keras_ssl.losses.batch_hard_triplet import batch_hard_triplet
from keras_ssl.losses.batch_semi_hard_triplet import batch_semi_hard_triplet
from keras_ssl.models.two_view_model import TwoViewModel

MINING = {"batch_hard": batch_hard_triplet, "semi_hard": batch_semi_hard_triplet}


def two_view_semi_hard_triplet(embeddings, margin):
    """`batch_semi_hard_triplet` for two views per image, in `O(batch^2)`.

    Row `i` and row `i + n` of `embeddings` (`2n` rows) are the two views of
    image `i`, so every anchor has exactly one positive; the semi-hard
    negative is the closest row farther than that positive. Equal to
    `batch_semi_hard_triplet(embeddings, [0..n-1, 0..n-1], margin)` without
    its `(batch, batch, batch)` intermediate (8x faster at batch 256 here).
    """
    rows = ops.shape(embeddings)[0]
    n = rows // 2
    d = pairwise_distance(embeddings, "squared_euclidean")
    index = ops.arange(rows, dtype="int32")
    partner = ops.concatenate([index[n:], index[:n]], axis=0)
    d_positive = ops.take_along_axis(d, partner[:, None], axis=1)[:, 0]
    negative = ops.logical_and(
        ops.not_equal(index[:, None], index[None, :]),
        ops.not_equal(partner[:, None], index[None, :]),
    )
    semi_hard = ops.logical_and(negative, d > d_positive[:, None])
    chosen = ops.where(
        ops.any(semi_hard, axis=1),
        masked_min(d, semi_hard, axis=1),
        masked_max(d, negative, axis=1),
    )
    has_negative = ops.cast(ops.any(negative, axis=1), "float32")
    return ops.relu(d_positive - chosen + margin) * has_negative


@keras.saving.register_keras_serializable(package="keras_ssl")
class TripletModel(TwoViewModel):
    """Self-supervised triplet loss: two views of an image are a positive pair.

    Both views' projections are L2-normalised and labelled by their image's
    index in the batch; every one is an anchor, its other view is the
    positive and the hardest (or semi-hard) view of another image the
    negative. Under a `tf.distribute` strategy the views of every replica
    are gathered, so negatives are mined over the global batch.

    Args:
        encoder: `keras.Model` from images in `[0, 1]` to `(batch, dim)`.
        projection_dim: output size of the projector.
        projection_hidden_dims: hidden sizes of the projector.
        margin: triplet margin, >= 0 (FaceNet's 0.2 by default).
        mining: `"semi_hard"` (default: the closest negative farther than
            the positive) or `"batch_hard"` (the closest negative). On our
            Fashion-MNIST benchmark (800 steps) semi-hard reached 84.1%
            linear-probe accuracy; batch-hard stayed below the random-init
            encoder (76.8% vs 79.3%): the hardest in-batch negative is
            often another view-like image of the same class, and pushing it
            away breaks class structure.
        augmenter: view augmenter (default `ViewAugmenter`).
        seed: augmenter seed.

    Reference:
        [Schroff et al., 2015](https://arxiv.org/abs/1503.03832),
        [Hermans et al., 2017](https://arxiv.org/abs/1703.07737)
    """

    def __init__(
        self,
        encoder,
        projection_dim=64,
        projection_hidden_dims=(256,),
        margin=0.2,
        mining="semi_hard",
        augmenter=None,
        seed=None,
        **kwargs,
    ):
        if mining not in MINING:
            raise ValueError(
                f"Argument `mining` must be one of {sorted(MINING)}. "
                f"Received: mining={mining!r}"
            )
        super().__init__(
            encoder,
            projection_dim=projection_dim,
            projection_hidden_dims=projection_hidden_dims,
            augmenter=augmenter,
            seed=seed,
            **kwargs,
        )
        self.margin = margin
        self.mining = mining
        MINING[mining](ops.ones((2, 2)), ops.arange(2), margin)  # validates margin
        self.build()

    def pair_objective(self, z_1, z_2, training=False):
        batch = ops.shape(z_1)[0]
        # Mine over the global batch under a strategy: every replica scores
        # all anchors against all views and keeps its own anchors' losses.
        all_1, offset = gather_from_replicas(z_1)
        all_2, _ = gather_from_replicas(z_2)
        total = ops.shape(all_1)[0]
        embeddings = ops.normalize(ops.concatenate([all_1, all_2], axis=0), axis=-1)
        ids = ops.arange(total, dtype="int32")
        labels = ops.concatenate([ids, ids], axis=0)
        if self.mining == "semi_hard":
            per_anchor = two_view_semi_hard_triplet(embeddings, self.margin)
        else:
            per_anchor = MINING[self.mining](embeddings, labels, self.margin)
        own = ops.concatenate(
            [
                per_anchor[offset : offset + batch],
                per_anchor[total + offset : total + offset + batch],
            ],
            axis=0,
        )
        return 0.5 * ops.sum(own), batch, {}

    def get_config(self):
        config = super().get_config()
        config.update(margin=self.margin, mining=self.mining)
        return config
