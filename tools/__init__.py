"""Development tooling (not shipped): see tools/cluster and tools/build_catalog.py."""
