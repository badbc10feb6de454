"""ColorMe Desktop: colorize grey photos from automatic guesses and user colour hints."""

__version__ = "0.1.0"
