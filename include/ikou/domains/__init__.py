"""Registry of the 20 standardization domains, their standard layouts and the migration plan.

>>> from ikou.domains import registry
>>> reg = registry(); len(reg), reg.plan["juki"].phase
(20, 'migration')
"""

from ikou.domains.files import RegistryError  # noqa: F401
from ikou.domains.registry import Registry, load_registry, registry  # noqa: F401
from ikou.domains.schema import Domain, LegacyFile, StandardLayout  # noqa: F401
