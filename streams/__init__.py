"""Kafka in and out: the embedded broker, lazy clients, and the consume → decide → store → publish → commit loop."""
