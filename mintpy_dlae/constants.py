"""Constants shared by every module (no imports: safe to use anywhere)."""

# Kinds of shipped model (pretrained/<kind>.keras) and of synthetic training source.
MODEL_KINDS = ("fault", "mogi")

# Dates per network window: a series of n dates gives n - WINDOW + 1 sliding windows.
WINDOW = 9
