"""Tasks service: owns the tasks table, its own record of projects, and the tasks topic."""
