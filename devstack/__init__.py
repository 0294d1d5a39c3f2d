"""Tandem's development stack: provisions the declared resources into moto and runs the app locally
(`python -m devstack`, `make run`). Never packaged into Lambda."""
