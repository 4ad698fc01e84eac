from tartan_fw.weighters.base import (
    AllGradientsWeighter, Mixer, StaticWeighter, TaskGradient, Weighter, WeighterContext,
)
from tartan_fw.weighters.fixed import FixedWeighter
from tartan_fw.weighters.meta import MetaWeighter
from tartan_fw.weighters.uniform import UniformWeighter

__all__ = [
    "AllGradientsWeighter", "FixedWeighter", "MetaWeighter", "Mixer", "StaticWeighter", "TaskGradient", "UniformWeighter",
    "Weighter", "WeighterContext",
]
