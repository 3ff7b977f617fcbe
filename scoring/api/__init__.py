"""The FastAPI app: screening queue, claims, outcomes, health; pages for people beside JSON for machines."""
