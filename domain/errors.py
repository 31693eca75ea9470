"""The one error the domain raises: a command that breaks a named pathway rule."""


class RuleViolation(Exception):
    """A command was refused; `rule` is a stable identifier, `message` says why in plain words."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(f"{message} (rule: {rule})")
        self.rule = rule
        self.message = message
