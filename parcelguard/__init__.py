"""ParcelGuard: risk-based screening of inbound express parcels (CLI, settings, shared errors)."""

__version__ = "0.1.0"
