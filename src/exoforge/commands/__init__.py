"""Command modules of the ``exoforge`` CLI; each registers its commands on the app.

Every module here stays light at import (typer only); the library is imported
inside the command functions so that ``exoforge --help`` and ``exoforge run``
start fast.
"""
