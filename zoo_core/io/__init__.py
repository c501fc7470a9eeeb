"""Files zoo reads and writes: bounded safe reads, file names, safetensors weights with sha256, checkpoints."""
