"""Failure kinds that run.py maps to exit codes.

A gate rejection (the data or the model is not good enough) is an expected outcome of CI and gets
its own exit code; everything else is an error in the inputs or the environment.
"""


class PipelineInputError(Exception):
    """An input (data file, config, stack) cannot be used at all."""


class GateRejected(Exception):
    """A gate decided the run must not go further; nothing is registered."""

    gate: str = "gate"

    def __init__(self, message: str, *, gate: str | None = None) -> None:
        super().__init__(message)
        if gate is not None:
            self.gate = gate


class DataValidationFailed(GateRejected):
    """The data gate rejected a batch."""

    gate = "data_validation"
