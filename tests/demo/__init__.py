"""Tests of ``parcelguard up`` and its demo room (parcelguard/demo)."""
