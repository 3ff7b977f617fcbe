"""MLflow I/O for risk models: log a model with its schema, load one by alias (never by stage).

The booster is logged with MLflow's native LightGBM flavour (the pyfunc flavour fails on categoricals
and costs ~2 ms a call); the feature schema travels beside it as ``feature_schema.json`` in the run.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from models.risk_model import FeatureSchema, RiskModel

log = logging.getLogger(__name__)
EXPERIMENT = "parcelguard"
SCHEMA_ARTIFACT = "feature_schema.json"


def configure(tracking_uri: str, data_dir: Path) -> str:
    """Point MLflow at the registry; with a local backend keep artifacts under the data folder."""
    mlflow.set_tracking_uri(tracking_uri)
    experiment = mlflow.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        location = None
        if tracking_uri.startswith(("sqlite:", "file:")) or "://" not in tracking_uri:
            location = (data_dir / "mlartifacts").resolve().as_uri()
        experiment_id = mlflow.create_experiment(EXPERIMENT, artifact_location=location)
    else:
        experiment_id = experiment.experiment_id
    mlflow.set_experiment(experiment_id=experiment_id)
    return str(experiment_id)


def log_model(model: RiskModel, sample: np.ndarray, registered_name: str) -> str:
    """Inside an active run: log schema and booster, register a new version; returns that version."""
    mlflow.log_dict(model.schema.to_dict(), SCHEMA_ARTIFACT)
    # Named columns, so the registered signature documents the feature order the booster expects.
    signature = infer_signature(pd.DataFrame(sample, columns=model.schema.names), model.margins(sample))
    info = mlflow.lightgbm.log_model(
        model.booster,
        name="model",
        registered_model_name=registered_name,
        signature=signature,
        pip_requirements=[f"lightgbm=={lgb.__version__}"],
    )
    return str(info.registered_model_version)


def alias_version(name: str, alias: str) -> str | None:
    try:
        return str(MlflowClient().get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def load_version(name: str, version: str) -> RiskModel:
    client = MlflowClient()
    model_version = client.get_model_version(name, version)
    booster = mlflow.lightgbm.load_model(f"models:/{name}/{version}")
    schema = FeatureSchema.from_dict(mlflow.artifacts.load_dict(f"runs:/{model_version.run_id}/{SCHEMA_ARTIFACT}"))
    return RiskModel(booster=booster, schema=schema, name=name, version=str(version))


def load_alias(name: str, alias: str) -> RiskModel | None:
    """The model an alias points to, or None when the alias (or the registry) does not exist yet."""
    version = alias_version(name, alias)
    return None if version is None else load_version(name, version)


def trained_until(name: str, version: str) -> float | None:
    """Epoch seconds from which a version saw no label (its held-out period began), if it was logged."""
    try:
        run_id = str(MlflowClient().get_model_version(name, version).run_id)
        value = MlflowClient().get_run(run_id).data.params.get("trained_until")
        return None if value is None else float(value)
    except (MlflowException, ValueError):
        return None


def set_alias(name: str, alias: str, version: str) -> None:
    MlflowClient().set_registered_model_alias(name, alias, version)


def delete_alias(name: str, alias: str) -> None:
    """Remove an alias if it exists (a promoted challenger leaves no stale shadow behind)."""
    try:
        MlflowClient().delete_registered_model_alias(name, alias)
    except MlflowException:
        log.debug("alias %s of %s did not exist", alias, name)


def version_info(name: str, version: str) -> dict[str, Any]:
    client = MlflowClient()
    mv = client.get_model_version(name, version)
    run = client.get_run(str(mv.run_id))
    return {"version": mv.version, "run_id": mv.run_id, "aliases": list(mv.aliases),
            "metrics": dict(run.data.metrics), "params": dict(run.data.params), "created": mv.creation_timestamp}
