"""Temporal workflows: they orchestrate (timers, waits) and turn validated commands into domain events."""
