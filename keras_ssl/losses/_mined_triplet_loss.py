"""Shared Keras `Loss` wrapper of the label-mined triplet losses."""

import keras

from keras_ssl.checks import check_non_negative
from keras_ssl.losses._distances import check_distance


class MinedTripletLoss(keras.losses.Loss):
    """Calls `mining_fn(embeddings, labels, margin, distance)` per anchor.

    Subclasses set `mining_fn` (a plain function) and `default_name`.
    """

    mining_fn = None
    default_name = None

    def __init__(
        self,
        margin=0.2,
        distance="squared_euclidean",
        reduction="sum_over_batch_size",
        name=None,
    ):
        check_non_negative("margin", margin)
        check_distance(distance)
        super().__init__(reduction=reduction, name=name or self.default_name)
        self.margin = float(margin)
        self.distance = distance

    def call(self, y_true, y_pred):
        return self.mining_fn(
            y_pred, y_true, margin=self.margin, distance=self.distance
        )

    def get_config(self):
        config = super().get_config()
        config.update({"margin": self.margin, "distance": self.distance})
        return config
