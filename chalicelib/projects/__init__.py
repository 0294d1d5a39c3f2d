"""Projects service: owns the projects table and topic. Others use `service`'s public functions."""
