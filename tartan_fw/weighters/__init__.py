from tartan_fw.weighters.base import StaticWeighter, TaskGradient, Weighter, WeighterContext
from tartan_fw.weighters.fixed import FixedWeighter
from tartan_fw.weighters.meta import MetaWeighter
from tartan_fw.weighters.uniform import UniformWeighter

__all__ = ["FixedWeighter", "MetaWeighter", "StaticWeighter", "TaskGradient", "UniformWeighter", "Weighter", "WeighterContext"]
