"""The keras_ssl version."""

__version__ = "0.1.0"
