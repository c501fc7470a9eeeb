"""Training data: ``load_dataset``, rendered glyphs, and readers for .npy/.npz/image-folder files."""
