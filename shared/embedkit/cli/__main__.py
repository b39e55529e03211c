"""``python -m embedkit.cli``: the same as the ``embedkit`` console script."""

from . import main

main()
