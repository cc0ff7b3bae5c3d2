"""``python -m memscore_core.cli``: the same as the ``memscore`` command."""

from memscore_core.cli import main

main()
