"""The synthetic world: hubs, parties, parcels and their hidden truth, for training, tests and the demo."""
