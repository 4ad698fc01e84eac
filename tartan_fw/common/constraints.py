"""Value ranges a constructor declares in its annotations (``body_lr: PositiveFloat``).

The config builder checks them while validating as well as building, so ``tartan-fw validate``
reports an out-of-range value at its dotted path before anything trains, and a negative learning
rate or clipping norm can never train silently the wrong way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, Callable


@dataclass(frozen=True)
class Constraint:
    """``accepts(value)`` or the config error: ``<path>: must be <requirement>, got <value>``."""

    accepts: Callable[[Any], bool]
    requirement: str

    def problem(self, value: Any) -> str | None:
        return None if self.accepts(value) else f"must be {self.requirement}, got {value!r}"


def at_least(minimum: int, note: str = "") -> Constraint:
    return Constraint(lambda value: value >= minimum, f"at least {minimum}{note}")


def positive(note: str = "") -> Constraint:
    """Finite and above 0 (NaN and infinity fail too)."""
    return Constraint(lambda value: math.isfinite(value) and value > 0, f"a finite number above 0{note}")


PositiveInt = Annotated[int, at_least(1)]
NonNegativeInt = Annotated[int, at_least(0)]
PositiveFloat = Annotated[float, positive()]
NonNegativeFloat = Annotated[float, Constraint(lambda value: math.isfinite(value) and value >= 0, "a finite number >= 0")]
WarmupFraction = Annotated[float, Constraint(lambda value: 0 <= value < 1, "in [0, 1)")]
# A text body's token budget: a sentence pair's three special tokens leave a few words of each.
MaxLength = Annotated[int, at_least(8)]
DropoutRate = Annotated[float, Constraint(lambda value: 0 <= value < 1, "in [0, 1)")]
PositiveFraction = Annotated[float, Constraint(lambda value: 0 < value <= 1, "in (0, 1]")]
Character = Annotated[str, Constraint(lambda value: len(value) == 1, "one character")]
NonEmpty = Constraint(lambda value: len(value) > 0, "a non-empty list")
Probability = Annotated[float, Constraint(lambda value: 0 < value < 1, "in (0, 1)")]
MAX_SEED = 2**32 - 1  # numpy's seeds are 32-bit; the seeds derived from it (seed * 1_000_003 + step) fit torch's 64
Seed = Annotated[int, Constraint(lambda value: 0 <= value <= MAX_SEED, f"between 0 and {MAX_SEED}")]
