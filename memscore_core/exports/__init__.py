"""Training-data exports built from stored scores."""
