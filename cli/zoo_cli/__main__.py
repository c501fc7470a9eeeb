"""``python -m zoo_cli``: the ``zoo`` command line (also what ``zoo train --workers N`` runs on each rank)."""

from zoo_cli.main import main

if __name__ == "__main__":  # pragma: no branch
    main()
