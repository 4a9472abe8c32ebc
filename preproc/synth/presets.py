"""Configuration of a synthetic webcam sequence (`SynthConfig`) and the named presets (`PRESETS`).

The scene itself (camera, terrain, building) is fixed in `scene.py`; a config chooses where and when the camera
stands, how it captures (interval, jitter, outages, defects) and the seed of the weather and the defects.
"""

import dataclasses
import datetime

from preproc import timestamps
from training import timeline

#----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class SynthConfig:
    name: str = 'custom'
    start: str = '2021-03-01T00:00:00'   # First capture, UTC (ISO 8601; a given offset is honoured).
    days: float = 730.0                  # Span of the sequence; the building goes from nothing to finished over it.
    interval_min: float = 240.0          # Mean capture interval.
    interval_jitter: float = 0.35        # Intervals are uniform in interval_min * (1 +- interval_jitter).
    drop_prob: float = 0.03              # Chance that a single capture is lost (short gaps).
    outage_every_days: float = 60.0      # Mean spacing of camera outages (at least one per sequence).
    outage_hours: tuple = (12.0, 144.0)  # Outage durations, log-uniform in this range.
    lat: float = 47.0                    # Degrees north.
    lon: float = 8.5                     # Degrees east.
    size: tuple = (256, 256)             # Frame size (W, H).
    seed: int = 0                        # Weather, capture times and defects.
    jitter_px: float = 0.6               # Camera shake: std of the shift in pixels at 256 px width.
    exposure_sigma: float = 0.06         # Exposure flicker: std of the log gain.
    occluder_prob: float = 0.03          # Fraction of frames with a bird, a blob or a drop on the lens.
    jpeg_quality: int = 95

    def __post_init__(self):
        checks = [
            (self.days > 0, f'days must be positive, got {self.days}'),
            (self.interval_min > 0, f'interval_min must be positive, got {self.interval_min}'),
            (0 <= self.interval_jitter < 1, f'interval_jitter must be in [0, 1), got {self.interval_jitter}'),
            (0 <= self.drop_prob < 1, f'drop_prob must be in [0, 1), got {self.drop_prob}'),
            (self.outage_every_days > 0, f'outage_every_days must be positive, got {self.outage_every_days}'),
            (len(self.outage_hours) == 2 and 0 < self.outage_hours[0] <= self.outage_hours[1],
             f'outage_hours must be (min, max) with 0 < min <= max, got {self.outage_hours}'),
            (-90 <= self.lat <= 90 and -180 <= self.lon <= 360, f'bad lat/lon: {self.lat}, {self.lon}'),
            (len(self.size) == 2 and all(int(v) == v and 16 <= v <= 4096 for v in self.size),
             f'size must be (W, H) with integers in [16, 4096], got {self.size}'),
            (0 <= self.occluder_prob <= 1, f'occluder_prob must be in [0, 1], got {self.occluder_prob}'),
            (1 <= self.jpeg_quality <= 100, f'jpeg_quality must be in [1, 100], got {self.jpeg_quality}'),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f'SynthConfig: {message}')
        self.date_start # Parses the start date, raising a clear error early.

    @property
    def date_start(self):
        """Unix seconds of the first capture."""
        return timestamps.parse_iso(self.start, datetime.timezone.utc)

    @property
    def date_end(self):
        return self.date_start + self.days * timeline.SECONDS_PER_DAY

    def as_dict(self):
        return dataclasses.asdict(self)

#----------------------------------------------------------------------------

PRESETS = {
    # About two years every ~4 h with outages: a few thousand frames, the README demo.
    'demo': SynthConfig(name='demo'),
    # For tests: 40 days every ~3 h at 64x64, a few hundred frames.
    'tiny': SynthConfig(name='tiny', days=40.0, interval_min=180.0, outage_every_days=20.0, size=(64, 64)),
}

#----------------------------------------------------------------------------
