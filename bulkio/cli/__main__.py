"""``python -m bulkio.cli``: the same command as ``bulkio``."""

from .app import main

main()
