"""kaito_core: the pure decisions of KAITO: API model, validation, sizing, rendering, status, plan.

Pure: no I/O, no clock, no logging. Import the parts from their modules:
`kaito_core.api`, `kaito_core.validation`, `kaito_core.sizing`, `kaito_core.plan`.
"""

__all__: list[str] = []
