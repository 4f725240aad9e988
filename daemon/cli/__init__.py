"""The `supportd` command line."""
