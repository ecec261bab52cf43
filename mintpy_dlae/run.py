"""Transitional alias of :mod:`mintpy_dlae.denoise_file` (the module's old name).

Kept only until tests/test_real_data.py (being edited elsewhere) imports ``denoise_file``; new code
imports :mod:`mintpy_dlae.denoise_file`. Remove this file then.
"""
from mintpy_dlae.denoise_file import *  # noqa: F401,F403
from mintpy_dlae.denoise_file import model_file, model_sha256, output_files, run_dlae  # noqa: F401
