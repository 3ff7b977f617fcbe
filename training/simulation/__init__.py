"""The closed-loop simulation: the learning loop run day by day on a synthetic world, and its reports."""
