import numpy as np
import pytest

from keras_ssl.layers import MemoryBank
from keras_ssl.testing import TestCase


class TestMemoryBank(TestCase):
    def test_starts_with_unit_vectors(self):
        bank = MemoryBank(8, 4, seed=0)
        queue = np.array(bank.queue())
        assert queue.shape == (8, 4)
        np.testing.assert_allclose(np.linalg.norm(queue, axis=1), 1.0, rtol=1e-5)

    def test_fifo_with_wrap_around(self):
        bank = MemoryBank(5, 2, seed=0)
        first = np.array([[3.0, 4.0], [0.0, 2.0], [1.0, 0.0]], "float32")
        bank.enqueue(first)
        second = np.array([[0.0, -1.0], [-2.0, 0.0], [5.0, 0.0]], "float32")
        bank.enqueue(second)
        queue = np.array(bank.queue())
        unit = second / np.linalg.norm(second, axis=1, keepdims=True)
        np.testing.assert_allclose(queue[3:5], unit[:2], atol=1e-6)
        np.testing.assert_allclose(queue[0], unit[2], atol=1e-6)
        np.testing.assert_allclose(queue[1:3], [[0.0, 1.0], [1.0, 0.0]], atol=1e-6)
        assert int(bank._pointer.numpy()) == 1

    def test_config_round_trip(self):
        restored = self.assert_serialization_round_trip(MemoryBank(6, 3, seed=1))
        assert (restored.size, restored.dim) == (6, 3)

    @pytest.mark.parametrize("size, dim", [(0, 4), (4, 0), (2.5, 4), (True, 4)])
    def test_bad_arguments(self, size, dim):
        with pytest.raises(ValueError, match="Received"):
            MemoryBank(size, dim)
