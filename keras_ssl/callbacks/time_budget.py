"""Stop training after a wall-clock budget."""

import time

import keras


class TimeBudget(keras.callbacks.Callback):
    """Stops `fit` at the first batch end after `seconds` of training.

    Args:
        seconds: wall-clock budget, > 0, or `None` for no limit.
    """

    def __init__(self, seconds):
        super().__init__()
        if seconds is not None and not (
            isinstance(seconds, int | float) and seconds > 0
        ):
            raise ValueError(
                f"Argument `seconds` must be > 0 or None. Received: seconds={seconds!r}"
            )
        self.seconds = seconds
        self.stopped_early = False

    def on_train_begin(self, logs=None):
        self.start = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        if self.seconds is not None and time.monotonic() - self.start > self.seconds:
            self.model.stop_training = True
            self.stopped_early = True
