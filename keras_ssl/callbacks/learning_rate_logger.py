"""Adds the optimizer's current learning rate to the epoch logs."""

import keras


class LearningRateLogger(keras.callbacks.Callback):
    """Puts `learning_rate` in the logs so TensorBoard and History record it.

    Place it before `keras.callbacks.TensorBoard` in the callback list.
    """

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(
                keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)
            )
