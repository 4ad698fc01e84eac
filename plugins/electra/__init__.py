"""ELECTRA-style replaced-token detection (Clark et al., 2020) as an auxiliary task.

Importing the package registers the ``token_discriminator`` head and the ``rtd`` aux task.
"""

from .head import TokenDiscriminatorHead
from .task import ReplacedTokenTask

__all__ = ["ReplacedTokenTask", "TokenDiscriminatorHead"]
