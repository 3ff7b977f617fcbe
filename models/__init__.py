"""The manifest contract, the one feature code path, and the model wrapper."""
