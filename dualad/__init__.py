"""dualad: NumPy-native automatic differentiation, forward and reverse mode."""
from . import ops
from .dual import DualArray

__all__ = ["DualArray", "ops"]
__version__ = "0.1.0"
