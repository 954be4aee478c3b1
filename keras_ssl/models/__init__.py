"""Self-supervised models: one shared training loop, one file per method."""

from keras_ssl.models.autoencoder import Autoencoder
from keras_ssl.models.barlow_twins import BarlowTwins
from keras_ssl.models.byol import BYOL
from keras_ssl.models.causal_language_model import CausalLanguageModel
from keras_ssl.models.deep_cluster import DeepCluster
from keras_ssl.models.dino import DINO
from keras_ssl.models.masked_autoencoder import MaskedAutoencoder
from keras_ssl.models.masked_language_model import MaskedLanguageModel
from keras_ssl.models.moco import MoCo
from keras_ssl.models.replaced_token_detection import ReplacedTokenDetection
from keras_ssl.models.rotation_prediction import RotationPrediction
from keras_ssl.models.simclr import SimCLR
from keras_ssl.models.simcse import SimCSE
from keras_ssl.models.simsiam import SimSiam
from keras_ssl.models.ssl_model import SSLModel
from keras_ssl.models.swav import SwAV
from keras_ssl.models.triplet_model import TripletModel
from keras_ssl.models.two_view_model import TwoViewModel
from keras_ssl.models.vicreg import VICReg

__all__ = [
    "Autoencoder",
    "BYOL",
    "BarlowTwins",
    "CausalLanguageModel",
    "DINO",
    "DeepCluster",
    "MaskedAutoencoder",
    "MaskedLanguageModel",
    "MoCo",
    "ReplacedTokenDetection",
    "RotationPrediction",
    "SSLModel",
    "SimCLR",
    "SimCSE",
    "SimSiam",
    "SwAV",
    "TripletModel",
    "TwoViewModel",
    "VICReg",
]
