"""Constants shared by every module (no imports: safe to use anywhere)."""

# Kinds of shipped model (pretrained/<kind>.keras) and of synthetic training source.
MODEL_KINDS = ("fault", "mogi")

# Dates per network window: a series of n dates gives n - WINDOW + 1 sliding windows.
WINDOW = 9

# Pixel sizes (metres, drawn log-uniformly) of the training series: the atmosphere's spectra and the
# terrain are scaled by them, the sources are drawn relative to the patch in pixels.
TRAINING_PIXEL_SIZE_M = (20.0, 120.0)
