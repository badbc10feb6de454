"""Qt-free and torch-free building blocks: images, colour, hints, history, palette."""
