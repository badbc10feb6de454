"""Colorization engines behind one small interface (no Qt here)."""
