"""Constants shared by every module (no imports: safe to use anywhere)."""

# Kinds of shipped model (pretrained/<kind>.keras) and of synthetic training source.
MODEL_KINDS = ("fault", "mogi")

# Dates per network window: a series of n dates gives n - WINDOW + 1 sliding windows.
WINDOW = 9

# Side (px) of the square patches of the training series: a frame narrower than this in either
# direction gives the network less context around every pixel than it was trained with.
TRAINING_PATCH_PX = 40

# Pixel sizes (metres, drawn log-uniformly) of the training series: the atmosphere's spectra and the
# terrain are scaled by them, the sources are drawn relative to the patch in pixels.
TRAINING_PIXEL_SIZE_M = (20.0, 120.0)

# Largest |displacement| (metres) read as data. Beyond it a value is no InSAR displacement (the
# largest coseismic line-of-sight offsets are about 10 m, decades of the fastest subsidence a few
# metres) but a fill value (-9999, FLT_MAX) or a unit mistake: the file driver reads it as a missing
# value, the array API refuses it.
MAX_ABS_DISPLACEMENT_M = 100.0

# An isolated spike (mintpy_dlae.denoise_file.find_spikes): a value more than this (metres) outside
# the range of its pixel's values on the dates before and after, by an excursion as far from the
# median excursion of the SPIKE_BOX x SPIKE_BOX px around it: a change between two acquisitions of
# about 0.1 m per pixel, beyond what unwrapped phase can show, so a phase-unwrapping or processing
# error that the network would spread over its view. The file driver reads such values as missing.
# (The Mexico City test crop's largest excursion is 0.045 m: tests/test_spikes.py.)
SPIKE_M = 0.25
SPIKE_BOX = 5
# px of context around a block for its spikes to be the whole frame's: the spatial test reads
# SPIKE_BOX // 2 px, and the last date's test reads the spikes of the date before it, which read as far
SPIKE_CONTEXT = 2 * (SPIKE_BOX // 2)

# Heights (metres) below this are DEM voids (-32768 in SRTM, -9999), not terrain: the lowest land is
# about -430 m (Dead Sea shore). They are read as missing heights, as NaN are.
HEIGHT_VOID_BELOW = -1000.0
