"""The PySide6 desktop app; talks to engines only through the engine interface."""
