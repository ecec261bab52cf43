"""Constants shared by every module (no imports: safe to use anywhere)."""

# Kinds of shipped model (pretrained/<kind>.keras) and of synthetic training source.
MODEL_KINDS = ("fault", "mogi")

# Dates per network window: a series of n dates gives n - WINDOW + 1 sliding windows.
WINDOW = 9

# Pixel sizes (metres, drawn log-uniformly) of the training series: the atmosphere's spectra and the
# terrain are scaled by them, the sources are drawn relative to the patch in pixels.
TRAINING_PIXEL_SIZE_M = (20.0, 120.0)

# Largest |displacement| (metres) read as data. Beyond it a value is no InSAR displacement (the
# largest coseismic line-of-sight offsets are about 10 m, decades of the fastest subsidence a few
# metres) but a fill value (-9999, FLT_MAX) or a unit mistake: the file driver reads it as a missing
# value, the array API refuses it.
MAX_ABS_DISPLACEMENT_M = 100.0
