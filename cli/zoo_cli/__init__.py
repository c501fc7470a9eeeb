"""The ``zoo`` command line: a thin click layer over :mod:`zoo_core`."""
