"""Packaging and deployment support: what Chalice and CloudFormation need, generated from
the services' declarations (core.registry). Never packaged into the app."""
