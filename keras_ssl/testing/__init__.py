"""Shared helpers for the keras_ssl test suite."""

from keras_ssl.testing.test_case import TestCase

__all__ = ["TestCase"]
