"""Helpers the tests import by name (``from helpers import clitools``): the CLI, plugin environments, the toy family, Hub servers, the bad-input corpus, a browser."""
