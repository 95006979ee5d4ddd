"""Errors a user can fix. They are printed as one clear sentence and exit with code 2."""


class UserError(Exception):
    """Something the user gave or has is wrong; the message says what and what to do."""


class DataError(UserError):
    """The data set is missing, corrupt, or not in an accepted format."""


class CheckpointError(UserError):
    """A checkpoint is missing, corrupt, or belongs to another model."""
