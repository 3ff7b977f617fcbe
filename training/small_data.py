"""Small histories: how few labels training accepts, and how it stretches its validation period.

A fully screened 9-day history of 3,000 parcels a day holds about 40 contraband parcels; its last 15%
held 2, too few to stop early or calibrate on. Training needs ``MIN_POSITIVES`` (15) contraband labels before
the held-out period; with fewer than ``COMFORTABLE_POSITIVES`` it warns, and it lengthens the validation
period backwards (time order kept: it still follows every training row) until it holds a third of them.
"""

from __future__ import annotations

import logging

import numpy as np

from parcelguard.errors import ParcelGuardError
from training.dataset import TrainingSet

log = logging.getLogger(__name__)
MIN_POSITIVES = 15  # "about 20": the closed-loop simulation's smallest test world holds 18
COMFORTABLE_POSITIVES = 100
MIN_VALID_POSITIVES = 8


class NotEnoughLabels(ParcelGuardError, ValueError):
    """The data holds too few labels of one class to learn from."""


def enough_labels(train: TrainingSet, valid: TrainingSet) -> tuple[TrainingSet, TrainingSet]:
    """(train, validation) fit to learn from; raises ``NotEnoughLabels`` saying what is missing."""
    positives = train.positives + valid.positives
    rows = len(train) + len(valid)
    if positives < MIN_POSITIVES or rows - positives < MIN_POSITIVES:
        missing = MIN_POSITIVES - positives if positives < MIN_POSITIVES else MIN_POSITIVES - (rows - positives)
        kind = "contraband" if positives < MIN_POSITIVES else "clear"
        raise NotEnoughLabels(
            f"training needs at least {MIN_POSITIVES} contraband and {MIN_POSITIVES} clear labels before the "
            f"held-out period; it has {positives} contraband out of {rows}: {missing} more {kind} labels "
            "(screen longer, or add a labelled history with --manifests/--outcomes)")
    if positives < COMFORTABLE_POSITIVES:
        log.warning("few contraband labels: the model will be rough", extra={"positives": positives})
    wanted = max(MIN_VALID_POSITIVES, positives // 3)
    if valid.positives >= min(wanted, MIN_VALID_POSITIVES) and train.positives >= 3:
        return train, valid
    both = TrainingSet(source=train.source, fresh=train.fresh, spec=train.spec)
    both.extend(train)
    both.extend(valid)
    labels = np.asarray(both.labels)
    from_end = np.cumsum(labels[::-1])
    start = len(both) - int(np.searchsorted(from_end, wanted, side="left")) - 1
    log.warning("validation period lengthened to hold enough contraband labels",
                extra={"validation_rows": len(both) - start, "validation_positives": wanted})
    return both.subset(0, start), both.subset(start, len(both))
