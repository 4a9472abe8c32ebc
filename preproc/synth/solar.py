"""Solar geometry from UTC unix seconds (the calendar through training.timeline): the sun's elevation and azimuth
for a latitude/longitude (NOAA's Fourier-series declination and equation of time, then the hour angle). Geometric
positions, without atmospheric refraction; accurate to a few tenths of a degree."""

import numpy as np

from training import timeline

#----------------------------------------------------------------------------

def sun_position(unix, lat, lon):
    """Sun (elevation, azimuth) in degrees for UTC unix seconds at lat/lon (degrees, north/east positive).

    Azimuth is measured clockwise from north (90 = east, 180 = south).
    """
    _, season_phase, hour = timeline.calendar(unix)
    g = 2 * np.pi * (season_phase - 0.5 / 365)  # fractional year in radians, at noon of the day as in NOAA's series
    eq_time = 229.18 * (0.000075 + 0.001868 * np.cos(g) - 0.032077 * np.sin(g)
                        - 0.014615 * np.cos(2 * g) - 0.040849 * np.sin(2 * g))  # minutes
    decl = (0.006918 - 0.399912 * np.cos(g) + 0.070257 * np.sin(g) - 0.006758 * np.cos(2 * g)
            + 0.000907 * np.sin(2 * g) - 0.002697 * np.cos(3 * g) + 0.00148 * np.sin(3 * g))  # radians
    solar_minutes = hour * 60 + eq_time + 4 * lon
    hour_angle = np.radians(solar_minutes / 4 - 180)
    phi = np.radians(lat)
    sin_elev = np.sin(phi) * np.sin(decl) + np.cos(phi) * np.cos(decl) * np.cos(hour_angle)
    elevation = np.degrees(np.arcsin(np.clip(sin_elev, -1, 1)))
    # Measured from south, positive westward; +180 turns it into the compass bearing.
    azimuth = np.degrees(np.arctan2(np.sin(hour_angle),
                                    np.cos(hour_angle) * np.sin(phi) - np.tan(decl) * np.cos(phi))) + 180
    return elevation, np.mod(azimuth, 360)

#----------------------------------------------------------------------------
