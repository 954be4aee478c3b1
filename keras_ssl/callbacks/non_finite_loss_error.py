"""The error `NonFiniteGuard` raises when training produced a NaN or Inf."""


class NonFiniteLossError(RuntimeError):
    """Training stopped because the loss (or a metric) became NaN or Inf.

    Raised by `NonFiniteGuard` at the end of `fit`, so that a workflow never
    goes on to save or export a model whose weights may no longer be finite
    as if the run had succeeded.

    Attributes:
        step: global training step (1-based; `optimizer.iterations` after
            it) whose logs first held a non-finite value.
        first_step: the earliest step that may have produced it. Equal to
            `step` unless the model runs several steps per execution
            (`steps_per_execution > 1`), when the logs arrive once per
            execution.
        epoch: 1-based epoch of `step`, as the progress bar counts.
        batch: 1-based batch of `step` within its epoch.
        values: dict of the non-finite log entries, e.g. `{"loss": nan}`.
        checkpoint: path of the last good checkpoint, or `None`.
        checkpoint_step: the step recorded with it, or `None` if unknown.
    """

    def __init__(
        self,
        message,
        step=None,
        first_step=None,
        epoch=None,
        batch=None,
        values=None,
        checkpoint=None,
        checkpoint_step=None,
    ):
        super().__init__(message)
        self.step = step
        self.first_step = step if first_step is None else first_step
        self.epoch = epoch
        self.batch = batch
        self.values = dict(values or {})
        self.checkpoint = checkpoint
        self.checkpoint_step = checkpoint_step
