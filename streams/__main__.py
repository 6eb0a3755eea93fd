"""``python -m streams worker -A module:app``: the worker command line of streams.app."""

from .app.cli import main

if __name__ == "__main__":
    main()
