-- One PostgreSQL serves both stores: ParcelGuard's database (POSTGRES_DB) and MLflow's tracking and
-- registry database, created here on the first start of an empty data volume.
CREATE DATABASE mlflow;
