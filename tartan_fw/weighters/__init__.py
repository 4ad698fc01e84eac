from tartan_fw.weighters.base import (
    AllGradientsWeighter, Mixer, StaticWeighter, TaskGradient, Weighter, WeighterContext,
)
from tartan_fw.weighters.fixed import FixedWeighter
from tartan_fw.weighters.gcs import GradientCosineWeighter
from tartan_fw.weighters.meta import MetaWeighter
from tartan_fw.weighters.pcgrad import PCGradWeighter
from tartan_fw.weighters.uncertainty import UncertaintyWeighter
from tartan_fw.weighters.uniform import UniformWeighter

__all__ = [
    "AllGradientsWeighter", "FixedWeighter", "GradientCosineWeighter", "MetaWeighter", "Mixer", "PCGradWeighter",
    "StaticWeighter", "TaskGradient", "UncertaintyWeighter", "UniformWeighter", "Weighter", "WeighterContext",
]
