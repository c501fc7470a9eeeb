"""Small standard-library helpers shared by the core, the CLI and plugins: lazy exports, did-you-mean, text tables."""
