"""Tandem's development stack: provisions infra/ into moto, and (later) runs it locally.
Never packaged into Lambda."""
