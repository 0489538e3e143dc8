"""The project's one error hierarchy, and the failure kinds the CLI maps to exit codes.

A gate rejection (the data or the model is not good enough) is an expected outcome of CI and gets
its own exit code (3); everything else is an error in the inputs or the environment (1). Every
error the library raises on purpose derives from MlCicdError, so a caller can tell "the project
refused" from "something broke". The one exception is the in-container model server
(`mlcicd.serving.server`), which imports nothing else from the project.
"""


class MlCicdError(Exception):
    """Base of every error the project raises on purpose, with a message meant for people."""


class PipelineInputError(MlCicdError):
    """An input (data file, config, stack) cannot be used at all."""


class GateRejected(MlCicdError):
    """A gate decided the run must not go further.

    `registered` names the version the run registered before the gate failed ('' when nothing
    was registered: every gate but the staging smoke test runs before registration).
    """

    gate: str = "gate"
    registered: str = ""

    def __init__(self, message: str, *, gate: str | None = None) -> None:
        super().__init__(message)
        if gate is not None:
            self.gate = gate


class DataValidationFailed(GateRejected):
    """The data gate rejected a batch."""

    gate = "data_validation"


class DataDriftDetected(GateRejected):
    """The training batch drifted from the champion's profile and the config blocks on drift."""

    gate = "data_drift"
