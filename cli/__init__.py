"""The `pathway` command line."""
