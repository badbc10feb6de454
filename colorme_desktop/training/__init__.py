"""Data gathering, hint simulation, training and evaluation of the networks."""
