"""Errors a user can act on, shared by every layer of the product.

The API maps each class to one HTTP status in one place (``api.errors``); the command line prints
the message and exits with code 2.
"""


class BamrungError(Exception):
    """Base class of errors whose message is meant for the user.

    The message names fields as the data does, never a command-line flag or a command: each
    interface adds its own words from ``field`` (the field of the request at fault) and
    ``needs`` (what has to be done first: ``"boundaries"``, ``"local_boundaries"``, ``"survey"``,
    ``"database"``).
    """

    def __init__(self, message: str, *, field: str | None = None, needs: str | None = None):
        super().__init__(message)
        self.field = field
        self.needs = needs


class InvalidInputError(BamrungError):
    """The input cannot be used as it is; the message says which row or field and why."""


class NotFoundError(BamrungError):
    """The thing asked for does not exist (or is outside the caller's reach)."""


class TooLargeError(BamrungError):
    """The request is larger than a configured limit; the message says the limit."""


class UnavailableError(BamrungError):
    """A service the command needs (database, network) cannot be reached."""


class UnauthorizedError(BamrungError):
    """The request needs a login (a bearer token) that it did not bring, or brought a bad one."""


class ForbiddenError(BamrungError):
    """The caller's role may not use this function."""


class UnsupportedFileError(InvalidInputError):
    """A file is not of a kind the command reads, or is not what its name says it is."""


class TooManyAttemptsError(BamrungError):
    """Too many failed attempts in a short time; ``retry_after`` says when to try again."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class MissingColumnsError(InvalidInputError):
    """A file lacks required columns.

    ``round_missing``: the round may be given for the whole file instead, which each interface words
    its own way.
    """

    def __init__(self, message: str, missing: list[str]) -> None:
        super().__init__(message)
        self.missing = missing
        self.round_missing = "round" in missing


class VersionRequiredError(BamrungError):
    """A change to a versioned record did not say which version it was made against."""


class StaleVersionError(BamrungError):
    """A change was made against an older version than the record's; ``current`` is the record."""

    def __init__(self, message: str, current: dict[str, object]) -> None:
        super().__init__(message)
        self.current = current
