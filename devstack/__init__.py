"""Tandem's development stack: provisions infra/ into moto and runs the app locally
(`python -m devstack`, `make run`). Never packaged into Lambda."""
