"""Delivery tests: the Helm chart, the examples, the Dockerfile and the kind config, offline."""
