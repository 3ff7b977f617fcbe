"""Topic names hubs integrate with (the contract: keep these names)."""

MANIFESTS = "parcel.manifests"
DECISIONS = "parcel.decisions"
OUTCOMES = "parcel.outcomes"
MANIFESTS_DLQ = "parcel.manifests.dlq"
OUTCOMES_DLQ = "parcel.outcomes.dlq"

ALL = (MANIFESTS, DECISIONS, OUTCOMES, MANIFESTS_DLQ, OUTCOMES_DLQ)
