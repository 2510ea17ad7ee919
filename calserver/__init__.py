"""calserver: a self-hosted calendar-subscription server."""

from importlib.metadata import version

# The one version source is pyproject.toml, read back from the installed package's metadata.
__version__ = version("calserver")
