"""The project's root exception; each package raises subclasses that say what failed and where."""


class ParcelGuardError(Exception):
    """Base class for every error ParcelGuard raises on purpose."""


class ConfigError(ParcelGuardError):
    """Configuration is missing or unsafe (e.g. a placeholder secret outside development)."""
