"""AcrossTicks: a stateful step whose state outlives the tick it was written in.

Keyed state lives per key *and window*. With one window per tick, state kept per tick is only as
good as the previous tick's commit to the store: when ticks overlap (an engine that runs windows
together, a tick slower than `tick_s`, a backlog), each sees an empty store and lets the same
items through again. So the stateful steps that decide "seen" and "feed claimed" run in the global
window, where an engine keeps (and checkpoints) their state for the life of the job, and their
output goes back into the tick windows by timestamp. A batch run is one tick in the global window
already: there this is the inner step alone, and the steps keep nothing in state, as each of their
keys comes once (ARCHITECTURE.md).
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam.transforms import window


class AcrossTicks(beam.PTransform):
    """`pcoll | AcrossTicks(stateful_pardo, tick_windows)`: the ParDo's output (each output, for a
    multi-output ParDo: a tuple, main first) re-windowed into `tick_windows`."""

    def __init__(self, stateful: beam.PTransform, tick_windows: window.WindowFn | None):
        super().__init__()
        self.stateful, self.tick_windows = stateful, tick_windows

    def expand(self, pcoll: beam.PCollection):
        if self.tick_windows is None:
            out = pcoll | "Stateful" >> self.stateful
            return tuple(out) if isinstance(out, beam.pvalue.DoOutputsTuple) else out
        out = (pcoll
               | "IntoGlobalWindow" >> beam.WindowInto(window.GlobalWindows())
               | "Stateful" >> self.stateful)
        if not isinstance(out, beam.pvalue.DoOutputsTuple):
            return out | "BackIntoTicks" >> beam.WindowInto(self.tick_windows)
        return tuple(part | f"BackIntoTicks{i}" >> beam.WindowInto(self.tick_windows)
                     for i, part in enumerate(out))
