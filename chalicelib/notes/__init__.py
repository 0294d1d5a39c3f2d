"""Notes service: owns the notes table and topic."""
