"""The imperative shell of kaito-py: backend protocols and errors, fake cluster, engine, CLI."""

__all__: list[str] = []
