"""Training schedules: the presets of `train` (float) and `quantize` (QAT), and the checks of their
overrides. Light on imports, so that --help can describe the presets from these very values."""
import dataclasses
import math
from dataclasses import dataclass

from abpn.errors import AbpnError


@dataclass(frozen=True)
class Schedule:
    """Adam with a step decay: the rate halves every `halve_every` epochs. The authors count an
    epoch as 1000 iterations (800 DIV2K images x 20 patches / batch 16)."""

    epochs: int
    steps_per_epoch: int
    learning_rate: float
    halve_every: int
    batch: int = 16
    patch: int = 64

    def learning_rate_at(self, epoch, _current=None):
        return self.learning_rate * 0.5 ** (epoch // self.halve_every)

    @property
    def iterations(self):
        return self.epochs * self.steps_per_epoch

    def describe(self):
        return (f"{self.epochs} epochs x {self.steps_per_epoch} iterations, batch {self.batch}, "
                f"Adam {self.learning_rate:g} halved every {self.halve_every} epochs")


TRAIN_PRESETS = {
    # Du et al. 2021: L1, Adam 1e-3 halved every 200 epochs, 1000 epochs, batch 16 of 64x64 LR.
    "paper": Schedule(epochs=1000, steps_per_epoch=1000, learning_rate=1e-3, halve_every=200),
    # 100k iterations with a faster decay: what 2 CPU cores can do over a few sessions (see models/).
    "cpu100k": Schedule(epochs=100, steps_per_epoch=1000, learning_rate=1e-3, halve_every=25),
    # A few minutes on 2 cores: enough to beat bicubic on the embedded photos.
    "smoke": Schedule(epochs=8, steps_per_epoch=100, learning_rate=1e-3, halve_every=6),
}

QAT_PRESETS = {
    # Du et al. 2021: QAT for 200 epochs, Adam 1e-4 halved every 50.
    "paper": Schedule(epochs=200, steps_per_epoch=1000, learning_rate=1e-4, halve_every=50),
    "smoke": Schedule(epochs=3, steps_per_epoch=50, learning_rate=1e-4, halve_every=2),
}


def resolve_schedule(presets, preset, **overrides):
    """The preset with the given overrides (None: keep the preset's value). The command line's types
    already bound them; this is the library's own check."""
    if preset not in presets:
        raise AbpnError(f"unknown preset {preset!r}: choose one of {', '.join(presets)}")
    changes = {k: v for k, v in overrides.items() if v is not None}
    for name, value in changes.items():
        if name == "learning_rate" and not (math.isfinite(value) and 0 < value <= 1):
            raise AbpnError(f"--lr must be a number above 0 and at most 1 (got {value})")
        if name != "learning_rate" and value < 1:
            raise AbpnError(f"--{name.replace('_', '-')} must be at least 1 (got {value})")
    return dataclasses.replace(presets[preset], **changes)
