"""Monitoring: drift, outcome and capacity reports and their charts, served by the analyst pages and the CLI."""
