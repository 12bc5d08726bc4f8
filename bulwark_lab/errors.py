"""The one error type the lab raises: it names the step that failed and says what to do."""


class StepError(Exception):
    """A set-up step failed; ``str()`` is a message for the user, never a stack trace."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"{step}: {message}")
        self.step = step
        self.message = message
