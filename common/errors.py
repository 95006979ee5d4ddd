"""Errors a user can fix. They are printed as one clear sentence and exit with code 2."""


class UserError(Exception):
    """Something the user gave or has is wrong; the message says what and what to do."""


class DataError(UserError):
    """The data set is missing, corrupt, or not in an accepted format."""


class CheckpointError(UserError):
    """A checkpoint is missing, corrupt, or belongs to another model."""


def check_ranges(config, limits: dict[str, tuple[float, bool]]) -> None:
    """A UserError naming the first setting of ``config`` outside its range. ``limits``: {setting: (lowest,
    whether the lowest itself is allowed)}; None (a setting left unset) passes."""
    for name, (lowest, inclusive) in limits.items():
        value = getattr(config, name)
        if value is None:
            continue
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not number or value != value or value == float("inf") or (value < lowest if inclusive else
                                                                       value <= lowest):
            raise UserError(f"{name} must be a number {'>=' if inclusive else '>'} {lowest:g}, got {value!r}")
