"""Registry of the 20 standardization domains, their standard layouts and the migration plan.

>>> from ikou.domains import registry
>>> reg = registry(); len(reg), reg.plan["juki"].phase
(20, 'migration')
"""

from ikou.domains.registry import (  # noqa: F401
    Domain,
    LegacyFile,
    Registry,
    RegistryError,
    StandardLayout,
    load_registry,
    registry,
)
