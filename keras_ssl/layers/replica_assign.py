"""Deprecated location of `assign_on_every_replica` (now in
`keras_ssl.cross_replica`, with the other cross-replica helpers)."""

from keras_ssl.cross_replica import assign_on_every_replica

__all__ = ["assign_on_every_replica"]
