"""``python -m uploader`` is the same as ``syllable-upload``."""

from uploader.cli import run

run()
