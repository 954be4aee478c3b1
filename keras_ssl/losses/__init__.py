"""Self-supervised objectives as stateless Keras losses and plain functions."""

from keras_ssl.losses.barlow_twins import BarlowTwinsLoss, barlow_twins
from keras_ssl.losses.batch_hard_triplet import (
    BatchHardTripletLoss,
    batch_hard_triplet,
)
from keras_ssl.losses.batch_semi_hard_triplet import (
    BatchSemiHardTripletLoss,
    batch_semi_hard_triplet,
)
from keras_ssl.losses.dino import dino_center_update, dino_loss
from keras_ssl.losses.info_nce import InfoNCE, info_nce
from keras_ssl.losses.negative_cosine_similarity import (
    NegativeCosineSimilarity,
    negative_cosine_similarity,
)
from keras_ssl.losses.nt_xent import NTXent, nt_xent, nt_xent_logits
from keras_ssl.losses.swav import sinkhorn, swav_loss
from keras_ssl.losses.triplet import TripletLoss, triplet
from keras_ssl.losses.vicreg import VICRegLoss, vicreg, vicreg_terms

__all__ = [
    "BarlowTwinsLoss",
    "BatchHardTripletLoss",
    "BatchSemiHardTripletLoss",
    "InfoNCE",
    "NTXent",
    "NegativeCosineSimilarity",
    "TripletLoss",
    "VICRegLoss",
    "barlow_twins",
    "batch_hard_triplet",
    "batch_semi_hard_triplet",
    "dino_center_update",
    "dino_loss",
    "info_nce",
    "negative_cosine_similarity",
    "nt_xent",
    "nt_xent_logits",
    "sinkhorn",
    "swav_loss",
    "triplet",
    "vicreg",
    "vicreg_terms",
]
