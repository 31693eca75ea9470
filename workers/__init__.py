"""Process wiring: settings, configuration, the Temporal client, logging and the worker."""
