"""Self-supervised objectives as stateless Keras losses and plain functions."""

from keras_ssl.losses.nt_xent import NTXent, nt_xent, nt_xent_logits

__all__ = ["NTXent", "nt_xent", "nt_xent_logits"]
