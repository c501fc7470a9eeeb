"""What models produce, as pictures: image files, latent walks, golden samples, the gallery."""
