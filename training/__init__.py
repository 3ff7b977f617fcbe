"""Learning: datasets, training, evaluation, promotion, drift, simulation — one module per stage."""
