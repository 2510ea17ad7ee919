"""`python -m web`: the `calserver` command, for tests and tools that start it by module."""

from web.cli import main

main()
