"""Storage-level errors the web layer turns into HTTP answers."""


class Conflict(Exception):
    """A unique value (slug, UID) is already taken."""


class NotFound(Exception):
    """The row does not exist, or belongs to another workspace."""


class UnsupportedDatabase(ValueError):
    """The database URL names a driver calserver does not run on."""
