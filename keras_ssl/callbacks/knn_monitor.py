"""kNN accuracy of a small labelled monitor set, once per epoch."""

import numbers

import keras
import tensorflow as tf

from keras_ssl.callbacks import _monitoring as m
from keras_ssl.checks import is_int
from keras_ssl.evaluation.knn_evaluate import knn_evaluate


class KNNMonitor(keras.callbacks.Callback):
    """Adds the kNN accuracy of the current encoder to the epoch logs.

    At the end of every `every`-th epoch the model embeds a small labelled
    bank (`x_train`) and queries (`x_test`) with `model.predict` (the
    encoder's representation, `training=False`) and classifies each query by
    the weighted vote of its `k` most cosine-similar bank examples
    (`keras_ssl.evaluation.knn_evaluate`: votes weighted by
    `exp(similarity / temperature)`). The accuracy goes into the epoch logs
    as `knn_accuracy`, so `History`, `EarlyStopping`, keras-tuner objectives
    and a `keras.callbacks.TensorBoard` placed *after* this callback (which
    writes it as `epoch_knn_accuracy`) all see it. With `log_dir` the
    callback also writes the scalar `epoch_knn_accuracy` there itself.

    On epochs it skips (`every > 1`) the logs carry no `knn_accuracy`.
    Cost per evaluation: one forward pass over both sets, so keep them small
    (a few thousand examples); off by default in the workflows.

    Works for image models (uint8 or float images) and text models (raw
    strings, tokenized once with the model's own preprocessor, or token ids).

    Args:
        x_train: inputs of the labelled bank.
        y_train: 1-D int class ids of the bank.
        x_test: inputs of the queries.
        y_test: 1-D int class ids of the queries.
        k: neighbours that vote, in `[1, len(y_train)]`.
        temperature: vote temperature, > 0.
        log_dir: optional folder to write the scalar to (a TensorBoard run).
        every: evaluate every `every` epochs.
        batch_size: batch size of the forward passes.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> x_bank, y_bank = rng.random((40, 28, 28, 1)), rng.integers(0, 4, 40)
    >>> x_query, y_query = rng.random((8, 28, 28, 1)), rng.integers(0, 4, 8)
    >>> monitor = KNNMonitor(x_bank, y_bank, x_query, y_query, k=20)
    >>> history = model.fit(images, epochs=5, callbacks=[  # doctest: +SKIP
    ...     monitor, keras.callbacks.TensorBoard("logs")])
    >>> history.history["knn_accuracy"]  # doctest: +SKIP

    Reference:
        [Wu et al., 2018](https://arxiv.org/abs/1805.01978) (weighted kNN)
    """

    def __init__(
        self,
        x_train,
        y_train,
        x_test,
        y_test,
        k=20,
        temperature=0.07,
        log_dir=None,
        every=1,
        batch_size=256,
    ):
        super().__init__()
        self.x_train = m.check_inputs(x_train, "x_train")
        self.x_test = m.check_inputs(x_test, "x_test")
        self.y_train = m.label_array(y_train, len(self.x_train), "y_train")
        self.y_test = m.label_array(y_test, len(self.x_test), "y_test")
        if (self.x_train.dtype == object) != (self.x_test.dtype == object):
            raise ValueError(
                "Arguments `x_train` and `x_test` must be the same kind of input "
                "(both texts or both arrays). Received: x_train of dtype "
                f"{self.x_train.dtype}, x_test of dtype {self.x_test.dtype}"
            )
        if not is_int(k) or not 1 <= k <= len(self.y_train):
            raise ValueError(
                f"Argument `k` must be an int in [1, {len(self.y_train)}] (the "
                f"bank size). Received: k={k!r}"
            )
        if (
            not isinstance(temperature, numbers.Real)
            or isinstance(temperature, bool)
            or not temperature > 0
        ):
            raise ValueError(
                "Argument `temperature` must be a number > 0. "
                f"Received: temperature={temperature!r}"
            )
        self.k = int(k)
        self.temperature = float(temperature)
        self.log_dir = m.check_log_dir(log_dir, allow_none=True)
        self.every = m.check_every(every)
        self.batch_size = m.check_positive_int("batch_size", batch_size)
        #: `(epoch, accuracy)` of every evaluation, in order.
        self.history = []
        self._inputs = None
        self._writer = None

    def set_model(self, model):
        super().set_model(model)
        self._inputs = None  # a new model may tokenize differently

    def _model_inputs(self):
        if self._inputs is None:
            self._inputs = (
                m.model_inputs(self.model, self.x_train, "x_train"),
                m.model_inputs(self.model, self.x_test, "x_test"),
            )
        return self._inputs

    def on_train_begin(self, logs=None):
        self._model_inputs()  # wrong kinds of input fail before training

    def evaluate(self):
        """The kNN accuracy of the model as it is now."""
        bank, queries = self._model_inputs()
        features = (
            m.embed_with_model(self.model, bank, self.batch_size),
            m.embed_with_model(self.model, queries, self.batch_size),
        )
        result = knn_evaluate(
            None,
            None,
            self.y_train,
            None,
            self.y_test,
            k=self.k,
            temperature=self.temperature,
            features=features,
        )
        return result["accuracy"]

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        accuracy = self.evaluate()
        self.history.append((epoch, accuracy))
        if logs is not None:
            logs["knn_accuracy"] = accuracy
        if self.log_dir is not None:
            if self._writer is None:
                self._writer = tf.summary.create_file_writer(self.log_dir)
            with self._writer.as_default():
                tf.summary.scalar("epoch_knn_accuracy", accuracy, step=epoch)
            self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
