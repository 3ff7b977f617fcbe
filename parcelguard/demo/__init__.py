"""The demo room behind ``parcelguard up``: a paced live feed on a stated clock, simulated X-ray stations
and the demo's keys. Sits above ``training`` (it drives the synthetic world) and below ``parcelguard.up``."""
