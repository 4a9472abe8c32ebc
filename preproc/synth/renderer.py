"""Renderer of the synthetic webcam scene: frames from factor arrays only (sun position, season, trend, weather,
capture defects), vectorised over frames in float32 and composited far to near with per-layer haze, then exposed,
tone-mapped and degraded like a webcam image (rain streaks, lens occluders, sensor noise, camera jitter)."""

import functools

import numpy as np
import scipy.ndimage

from preproc.synth import factors, noise, scene, sky

CHUNK = 16 # Frames per vectorised batch (bounds memory: ~10 MB per frame at 256 x 256).
INT_KEYS = ('occluder', 'occluder_kind', 'noise_seed')

#----------------------------------------------------------------------------
# Materials (linear albedo) and the seasonal calendar (keyframes over the phase of the year; northern hemisphere).

GRASS = [(0.00, (0.10, 0.10, 0.05)), (0.20, (0.11, 0.11, 0.05)), (0.30, (0.09, 0.17, 0.035)),
         (0.40, (0.065, 0.16, 0.03)), (0.60, (0.085, 0.15, 0.035)), (0.70, (0.13, 0.14, 0.045)),
         (0.82, (0.14, 0.12, 0.05)), (0.92, (0.11, 0.10, 0.05))]
LEAF_COLOR = [(0.00, (0.08, 0.16, 0.03)), (0.29, (0.20, 0.36, 0.06)), (0.36, (0.09, 0.22, 0.035)),
              (0.70, (0.08, 0.18, 0.03)), (0.76, (0.36, 0.30, 0.04)), (0.82, (0.48, 0.17, 0.03)),
              (0.88, (0.22, 0.10, 0.03))]
LEAF_DENSITY = [(0.00, 0.0), (0.28, 0.0), (0.31, 0.35), (0.37, 0.95), (0.78, 0.95), (0.85, 0.55), (0.89, 0.15),
                (0.92, 0.0)]
AUTUMN = [(0.00, 0.0), (0.72, 0.0), (0.80, 1.0), (0.88, 0.6), (0.93, 0.0)]
WINTER = [(0.00, 1.0), (0.20, 0.8), (0.35, 0.0), (0.82, 0.0), (0.95, 0.9)]

SNOW = np.array([0.80, 0.82, 0.87], dtype=np.float32)
PATH = np.array([0.20, 0.17, 0.12], dtype=np.float32)
DIRT = np.array([0.16, 0.11, 0.07], dtype=np.float32)
PAVING = np.array([0.26, 0.26, 0.25], dtype=np.float32)
ROCK = np.array([0.11, 0.10, 0.10], dtype=np.float32)
FOREST = np.array([0.03, 0.055, 0.03], dtype=np.float32)
FOREST_AUTUMN = np.array([0.13, 0.07, 0.02], dtype=np.float32)
CLADDING = np.array([0.45, 0.42, 0.37], dtype=np.float32)
GLASS = np.array([0.03, 0.035, 0.045], dtype=np.float32)
CONCRETE = np.array([0.33, 0.32, 0.30], dtype=np.float32)
INTERIOR = np.array([0.025, 0.025, 0.025], dtype=np.float32)
NETTING = np.array([0.10, 0.22, 0.18], dtype=np.float32)
LAMPLIGHT = np.array([0.22, 0.13, 0.04], dtype=np.float32)
CRANE_PAINT = np.array([0.55, 0.38, 0.03], dtype=np.float32)
BALLAST = np.array([0.25, 0.25, 0.24], dtype=np.float32)
BARK = np.array([0.06, 0.05, 0.04], dtype=np.float32)
NEEDLES = np.array([0.025, 0.06, 0.03], dtype=np.float32)

def seasonal(keys, phase):
    """Periodic piecewise-linear keyframes [(phase, value)] at phase [N] -> [N] or [N, C] float32."""
    xs = np.array([k[0] for k in keys])
    ys = np.array([k[1] for k in keys], dtype=np.float32).reshape(len(keys), -1)
    xs = np.concatenate([[xs[-1] - 1], xs, [xs[0] + 1]])
    ys = np.concatenate([ys[-1:], ys, ys[:1]])
    phase = np.mod(phase, 1)
    out = np.stack([np.interp(phase, xs, ys[:, c]) for c in range(ys.shape[1])], axis=-1).astype(np.float32)
    return out[..., 0] if np.ndim(keys[0][1]) == 0 else out

def snow_cover(snow, patches):
    """Patchy snow: none at snow = 0, nearly complete at snow = 1, patches in between."""
    return np.clip((snow - 0.45 + 0.3 * patches) * 5 + 0.5, 0, 1) * scene.smoothstep(0, 0.1, snow)

#----------------------------------------------------------------------------
# Shading and compositing helpers. Per-frame values are [N], static maps [h, w]; colours have a trailing axis of 3.

def _mix(a, b, w):
    """a + (b - a) * w with the weight broadcast over the colour axis."""
    return a + (b - a) * w[..., None]

def _over(canvas, box, rgb, alpha):
    region = canvas[(slice(None),) + box]
    region += (rgb - region) * alpha[..., None]

def _per_frame(v, ndim=3):
    return np.asarray(v).reshape((-1,) + (1,) * (ndim - 1))

def _lambert(normals, sun_dir):
    """max(0, n . s) for static normals [h, w, 3] and per-frame sun vectors [N, 3] -> [N, h, w]."""
    return np.maximum(np.einsum('hwc,nc->nhw', normals, sun_dir), 0)

def _shade(albedo, lam, light, ambient=1.0):
    """Radiance of a diffuse surface: sky light (times `ambient`) plus the sun weighted by lam [N, h, w]."""
    return albedo * (light['ambient'][:, None, None] * ambient + light['sun'][:, None, None] * lam[..., None])

def _surface(albedo, lam, light, dist):
    """_shade, hazed over the distance dist (m)."""
    return sky.apply_haze(_shade(albedo, lam, light), dist, light)

def _snowed(albedo, fac, patches, texture):
    return _mix(albedo, SNOW * (1 + 0.1 * texture)[..., None], snow_cover(_per_frame(fac['snow']), patches))

#----------------------------------------------------------------------------
# Ground shadows.

def _box_shadow(a, b, sa, sb, length, half_a, half_b, soft):
    """Shadow of an upright box with footprint |a| < half_a, |b| < half_b: the footprint swept away from the sun
    (horizontal unit direction (sa, sb)) over `length`. A convex hexagon, drawn as the max of its half-plane
    distances, soft over `soft` metres."""
    d = np.maximum(a - half_a - length * np.maximum(-sa, 0), -a - half_a - length * np.maximum(sa, 0))
    d = np.maximum(d, np.maximum(b - half_b - length * np.maximum(-sb, 0), -b - half_b - length * np.maximum(sb, 0)))
    d = np.maximum(d, np.abs(sa * b - sb * a) - (half_a * np.abs(sb) + half_b * np.abs(sa)))
    return np.clip(0.5 - d / soft, 0, 1)

def _ground_shadow(lay, fac, light, build):
    """Shadow [N, h, w] on the meadow from the tower, the crane's mast and the trees (computed for frames with sun)."""
    g = lay.ground
    out = np.zeros((len(light['e']),) + g.x.shape, dtype=np.float32)
    up = np.flatnonzero(light['e'] > -1)
    if up.size == 0:
        return out
    s = light['sun_dir'][up]
    horiz = np.maximum(np.hypot(s[:, 0], s[:, 2]), 1e-6)
    sx, sz = _per_frame(s[:, 0] / horiz), _per_frame(s[:, 2] / horiz)
    e = np.radians(np.maximum(light['e'][up], 2.0))
    inv_tan, sin_e = _per_frame(1 / np.tan(e)), _per_frame(np.sin(e))
    soft = g.footprint + 0.4
    b, c = scene.BUILDING, scene.CRANE
    cos_y, sin_y = np.cos(np.radians(b['yaw'])), np.sin(np.radians(b['yaw']))
    shadow = _box_shadow(g.a, g.b, sx * cos_y + sz * sin_y, sz * cos_y - sx * sin_y,
                         _per_frame(build['structure'][up]) * inv_tan, b['width'] / 2, b['depth'] / 2, soft)
    mast = _box_shadow(g.x - c['x'], g.z - c['z'], sx, sz, _per_frame(build['crane_h'][up]) * inv_tan, 1, 1, soft)
    shadow = np.maximum(shadow, 0.5 * _per_frame(build['crane_on'][up]) * mast)
    density = _per_frame(seasonal(LEAF_DENSITY, fac['season_phase'][up]))
    for tree in lay.trees:
        p = tree.shadow
        trunk = _box_shadow(g.x - p['x'], g.z - p['z'], sx, sz, p['trunk'] * inv_tan, 0.3, 0.3, soft)
        rx, rz = g.x - (p['x'] - sx * p['h'] * inv_tan), g.z - (p['z'] - sz * p['h'] * inv_tan)
        along, across = rx * sx + rz * sz, rz * sx - rx * sz # The crown's shadow: an ellipse stretched by 1/sin(e).
        crown = np.clip(0.5 - (np.hypot(along * sin_e, across) - p['r']) / soft, 0, 1)
        strength = 0.9 if tree.kind == 'conifer' else 0.25 + 0.65 * density
        shadow = np.maximum(shadow, np.maximum(trunk, strength * crown))
    out[up] = shadow
    return out

#----------------------------------------------------------------------------
# Layers, far to near.

def _hills(canvas, lay, fac, light):
    season = fac['season_phase']
    snow = _per_frame(fac['snow'])
    for h in lay.hills:
        tex = h.tex[..., None]
        if h.name == 'mountains': # Rock with forest at its foot, snow above a snow line that drops in winter.
            albedo = ROCK * (1 + 0.3 * tex)
            albedo = _mix(albedo, FOREST, scene.smoothstep(1300, 900, h.height + 200 * h.tex))
            snowline = 2300 - 900 * _per_frame(seasonal(WINTER, season)) - 700 * snow
            albedo = _mix(albedo, SNOW, scene.smoothstep(snowline - 80, snowline + 80, h.height + 250 * h.tex))
        elif h.name == 'forest':
            albedo = FOREST * (1 + 0.4 * tex)
            albedo = _mix(albedo, FOREST_AUTUMN, _per_frame(seasonal(AUTUMN, season)) * np.clip(h.tex - 0.3, 0, 1))
            albedo = _mix(albedo, 0.55 * SNOW, 0.7 * snow * np.clip(0.6 + 0.5 * h.tex, 0, 1))
        else:
            albedo = _snowed(seasonal(GRASS, season)[:, None, None] * (1 + 0.25 * tex), fac, h.tex, h.tex)
        _over(canvas, (h.rows, slice(None)), _surface(albedo, _lambert(h.normal, light['sun_dir']), light, h.dist), h.alpha)

def _ground(canvas, lay, fac, light, build):
    g = lay.ground
    albedo = seasonal(GRASS, fac['season_phase'])[:, None, None] * (1 + 0.35 * g.grass)[..., None]
    albedo = _mix(albedo, PATH, g.path)
    albedo = _mix(albedo, DIRT, g.site * _per_frame(build['site_dirt']))
    albedo = _mix(albedo, PAVING, g.site * _per_frame(build['site_paved']))
    albedo = _snowed(albedo, fac, g.patches, g.grass) * (1 - 0.3 * _per_frame(fac['rain'], 4)) # Wet is darker.
    lam = _per_frame(np.maximum(light['sun_dir'][:, 1], 0)) * (1 - _ground_shadow(lay, fac, light, build))
    _over(canvas, (g.rows, slice(None)), _surface(albedo, lam, light, g.dist), g.alpha)

def _building(canvas, lay, light, build, frame_rand):
    """The tower's faces: raw concrete frame up to `structure`, finished facade up to `facade`, safety netting on the
    scaffold in between while the crane works, lit windows at night in the finished floors."""
    b = scene.BUILDING
    structure, facade = _per_frame(build['structure']), _per_frame(build['facade'])
    lights_on = _per_frame(scene.smoothstep(3, -4, light['e']) * (0.15 + 0.3 * frame_rand[:, 7]))
    for face in lay.faces:
        y, s, fp_y, fp_s = face.y, face.s, face.fp_y, face.fp_s
        fy, fs = np.mod(y, b['floor_h']), np.mod(s, b['bay'])
        window = (scene.coverage(np.minimum(fy - 0.9, 2.6 - fy) / fp_y) * (y < b['floors'] * b['floor_h'])
                  * scene.coverage(np.minimum(fs - 0.6, 2.4 - fs) / fp_s))
        frame = np.maximum(scene.coverage((0.35 - fy) / fp_y), scene.coverage((0.5 - np.mod(s, 2 * b['bay'])) / fp_s))
        done = scene.coverage((facade - y) / fp_y)
        albedo = _mix(_mix(INTERIOR, CONCRETE, frame), _mix(CLADDING, GLASS, window), done)
        lam = np.broadcast_to(np.maximum(light['sun_dir'] @ face.normal, 0)[:, None, None], done.shape)
        glass = window * done
        lit = (np.mod(face.window_rand + _per_frame(frame_rand[:, 6]), 1) < lights_on) * glass
        reflection = 0.25 * light['haze'][:, None, None] # The sky seen in the panes.
        rgb = _shade(albedo, lam, light, 0.8) + reflection * glass[..., None] + LAMPLIGHT * lit[..., None]
        net = (scene.coverage((y - facade + 0.3) / fp_y) * scene.coverage((structure + 1.2 - y) / fp_y)
               * _per_frame(build['crane_on']) * (structure > 0.5))
        poles = 1 - 0.5 * scene.coverage((0.08 - np.mod(s, 2.5)) / fp_s)
        rgb = _mix(rgb, _shade(NETTING * poles[..., None], lam, light), 0.75 * net)
        solid = scene.coverage((structure - y) / fp_y) * scene.coverage(y / fp_y)
        _over(canvas, face.box, sky.apply_haze(rgb, face.dist, light), face.inside * np.maximum(solid, 0.75 * net))

def _crane(canvas, obj, light, build, frame_rand):
    """A tower crane as lattice lines on a camera-facing plane; it climbs with the building, its trolley and hook
    move from frame to frame."""
    c = scene.CRANE
    x, y, fp = obj.x - c['x'], obj.y, obj.fp
    top = _per_frame(build['crane_h'])
    def line(d, half_width):
        return scene.line_coverage(d, half_width, fp)
    def box(cx, cy, half_x, half_y):
        return scene.coverage((half_x - np.abs(x - cx)) / fp) * scene.coverage((half_y - np.abs(y - cy)) / fp)
    def tri(v): # Triangle wave of period 2: the lattice diagonals.
        return np.abs(np.mod(v, 2) - 1)
    mast = functools.reduce(np.maximum, [line(np.abs(x - 0.9), 0.12), line(np.abs(x + 0.9), 0.12),
                                         line(np.abs(x + 0.9 - 1.8 * tri(y / 1.8)), 0.08)]) * box(0, top / 2, 1.2, top / 2)
    jib = functools.reduce(np.maximum, [line(np.abs(y - top - 0.1), 0.12), line(np.abs(y - top - 1.5), 0.1),
                                        line(np.abs(y - top - 0.1 - 1.4 * tri(x / 1.4)), 0.07)])
    jib = jib * box((c['jib'] - c['counter_jib']) / 2, top + 0.8, (c['jib'] + c['counter_jib']) / 2, 0.9)
    apex = top + 5
    rigging = [line(scene.segment_distance(x, y, 0, apex, end_x, top + 1.6), half)
               for end_x, half in ((0.9, 0.1), (-0.9, 0.1), (0.7 * c['jib'], 0.05), (-c['counter_jib'], 0.05))]
    trolley = _per_frame(8 + 28 * frame_rand[:, 8])
    hook_y = np.maximum(top - 6 - 25 * _per_frame(frame_rand[:, 9]), 2)
    cable = line(np.abs(x - trolley), 0.03) * scene.coverage((top - y) / fp) * scene.coverage((y - hook_y) / fp)
    parts = [mast, jib, cable, box(trolley, hook_y - 0.5, 0.5, 0.6), box(2.0, top - 1.3, 1.1, 1.25)] + rigging
    ballast = box(2.0 - c['counter_jib'], top - 0.9, 2.0, 1.1)
    alpha = np.maximum(functools.reduce(np.maximum, parts), ballast) * _per_frame(build['crane_on'])
    # A lattice is lit from most sides: half as a plane facing the camera, half from above.
    lam = (0.5 * np.maximum(-light['sun_dir'][:, 2], 0) + 0.5 * np.maximum(light['sun_dir'][:, 1], 0))[:, None, None]
    rgb = _surface(_mix(CRANE_PAINT, BALLAST, ballast), np.broadcast_to(lam, alpha.shape), light, obj.dist)
    _over(canvas, obj.box, rgb, alpha)

def _tree(canvas, tree, fac, light):
    """Bare wood first, then the foliage: leaves that follow the season, or a conifer's needles with snow on its tiers."""
    lam = 0.25 + 0.75 * _lambert(tree.normal, light['sun_dir']) # Foliage also lets light through.
    _over(canvas, tree.box, _surface(BARK, lam, light, tree.dist), tree.wood)
    if tree.kind == 'conifer':
        snow = _per_frame(fac['snow']) * np.clip((0.35 - tree.tier) * 3 + 0.5 * tree.wobble, 0, 1)
        albedo = _mix(NEEDLES * (1 + 0.3 * tree.wobble)[..., None], 0.8 * SNOW, snow)
        _over(canvas, tree.box, _surface(albedo, lam, light, tree.dist), tree.body)
        return
    phase = fac['season_phase'] + tree.phase
    density = _per_frame(seasonal(LEAF_DENSITY, phase))
    leaves = tree.disc * np.clip((0.5 * tree.leaves + 2.0 * density - 1.0 - 0.9 * tree.rho**2) * 2.5, 0, 1)
    albedo = seasonal(LEAF_COLOR, phase)[:, None, None] * (tree.shade * (1 + 0.25 * tree.leaves))[..., None]
    _over(canvas, tree.box, _surface(albedo, lam, light, tree.dist), leaves)

#----------------------------------------------------------------------------
# Camera: rain in front of the lens, exposure and tone curve, occluders, sensor noise, jitter.

@functools.lru_cache(maxsize=4)
def _overlays(W, H):
    """Static [2H, 2W] rain-streak texture and [2H, 2W, 3] sensor-noise texture; frames read offset windows."""
    rng = np.random.default_rng(7)
    drops = (rng.random((2 * H, 2 * W)) < 1.0 / W).astype(np.float32) * rng.uniform(0.3, 1, (2 * H, 2 * W))
    length = max(int(0.08 * H), 3)
    streaks = sum(np.roll(drops, (k, int(round(0.25 * k))), axis=(0, 1)) * (1 - k / length)**0.5 for k in range(length))
    streaks = scipy.ndimage.uniform_filter1d(streaks, 2, axis=1) if W >= 128 else streaks
    grain = rng.standard_normal((2 * H, 2 * W, 3)).astype(np.float32)
    return np.clip(streaks, 0, 1).astype(np.float32), grain

def _window(tex, fy, fx, H, W):
    y0, x0 = int(fy * tex.shape[0] / 2), int(fx * tex.shape[1] / 2)
    return tex[y0:y0 + H, x0:x0 + W]

def _occlude(img, fac, frame_rand):
    """Draw a drop on the lens, a bird or a dark blurred blob into the frames flagged by the occluder factor."""
    N, H, W, _ = img.shape
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32) + 0.5
    for n in np.flatnonzero(fac['occluder']):
        cx, cy, u = fac['occluder_x'][n] * W, fac['occluder_y'][n] * H, frame_rand[n, 10]
        kind = int(fac['occluder_kind'][n])
        if kind == 0: # Raindrop: a blurred, inverted, minified view of the scene behind it, with a dark rim.
            radius = (0.05 + 0.05 * u) * W
            d = np.hypot(xx - cx, yy - cy)
            blurred = scipy.ndimage.uniform_filter(img[n], size=(max(int(radius / 2), 1),) * 2 + (1,))
            sy = np.clip(cy - (yy - cy) * 0.5, 0, H - 1).astype(np.int64)
            sx = np.clip(cx - (xx - cx) * 0.5, 0, W - 1).astype(np.int64)
            rim = np.exp(-((radius - d) / (0.18 * radius))**2) * 0.35
            glint = 0.5 * np.exp(-(np.hypot(xx - cx + 0.35 * radius, yy - cy + 0.35 * radius) / (0.12 * radius))**2)
            drop = blurred[sy, sx] * 0.95 * (1 - rim)[..., None] + glint[..., None]
            alpha = scene.coverage((radius - d) / 1.5)
        elif kind == 1: # A bird close to the camera, slightly motion-blurred.
            span = (0.03 + 0.03 * u) * W
            su, sv = (xx - cx) / span, (yy - cy) / span
            wing = np.abs(sv - (-0.3 * np.sin(np.pi * np.minimum(np.abs(su), 1)) + 0.25 * np.abs(su)))
            inside = np.minimum(0.09 * (1 - np.abs(su)) + 0.02 - wing, 1 - np.abs(su))
            body = 1 - np.hypot(su / 0.14, (sv - 0.03) / 0.08)
            alpha = scene.coverage(np.maximum(inside * span, body * 0.08 * span) / 1.2)
            drop = np.full_like(img[n], 0.07)
        else: # Something dark right at the lens: a big soft blob.
            sigma = (0.10 + 0.12 * u) * W
            alpha = 0.85 * np.exp(-((xx - cx)**2 + (yy - cy)**2) / (2 * sigma**2))
            drop = np.broadcast_to(np.array([0.05, 0.06, 0.04], dtype=np.float32), img[n].shape)
        img[n] = _mix(img[n], drop, alpha)

def _shift(img, dx, dy):
    """Translate each frame by (dx, dy) pixels, bilinear, edges repeated."""
    N, H, W, _ = img.shape
    pad = int(np.ceil(np.max(np.abs(np.concatenate([dx, dy]))))) + 1
    padded = np.pad(img, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode='edge')
    out = np.empty_like(img)
    for n in range(N):
        iy, ix = int(np.floor(-dy[n])), int(np.floor(-dx[n]))
        fy, fx = np.float32(-dy[n] - iy), np.float32(-dx[n] - ix)
        view = lambda oy, ox: padded[n, pad + iy + oy:pad + iy + oy + H, pad + ix + ox:pad + ix + ox + W]
        out[n] = (view(0, 0) * (1 - fx) + view(0, 1) * fx) * (1 - fy) + (view(1, 0) * (1 - fx) + view(1, 1) * fx) * fy
    return out

def _camera(canvas, fac, light, frame_rand):
    N, H, W, _ = canvas.shape
    streaks, grain = _overlays(W, H)
    for n in np.flatnonzero(fac['rain'] > 0.01):
        alpha = 0.25 * fac['rain'][n] * _window(streaks, frame_rand[n, 2], frame_rand[n, 3], H, W)
        canvas[n] += (1.5 * light['ambient'][n] + 0.3 * light['sun'][n] - canvas[n]) * alpha[..., None]
    gain = light['gain'] * fac['exposure']
    img = (1 - np.exp(-2.0 * canvas * gain[:, None, None, None]))**(1 / 2.2)
    _occlude(img, fac, frame_rand)
    sigma = 0.008 + 0.012 * light['gain'] / 8 # Noisier when the camera turns its gain up at night.
    for n in range(N):
        img[n] += sigma[n] * _window(grain, frame_rand[n, 4], frame_rand[n, 5], H, W)
    scale = W / scene.REF_WIDTH
    img = _shift(img, fac['jitter_x'] * scale, fac['jitter_y'] * scale)
    return np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)

#----------------------------------------------------------------------------

def _render_chunk(lay, fac):
    # Small per-frame random details (texture offsets, lit windows, hook position, ...), from the noise_seed factor.
    frame_rand = noise.uniform(fac['noise_seed'][:, None], np.arange(12)[None]).astype(np.float32)
    light = sky.lighting(fac)
    build = scene.construction(fac['trend'])
    canvas = np.zeros((len(light['e']), lay.H, lay.W, 3), dtype=np.float32)
    canvas[:, lay.sky_rows] = sky.sky(lay, fac, light, frame_rand)
    _hills(canvas, lay, fac, light)
    _ground(canvas, lay, fac, light, build)
    for kind, obj in lay.objects:
        if kind == 'building':
            _building(canvas, lay, light, build, frame_rand)
        elif kind == 'crane':
            _crane(canvas, obj, light, build, frame_rand)
        else:
            _tree(canvas, obj, fac, light)
    return _camera(canvas, fac, light, frame_rand)

def render(factors_dict, size=(256, 256)):
    """uint8 frames [N, H, W, 3] drawn from factor arrays alone (see factors.RENDER_KEYS; scalars broadcast).

    Nothing is re-derived from the time: the sun is where sun_elevation/sun_azimuth say, the vegetation follows
    season_phase, the building trend, so any combination can be drawn. size is (W, H); frames are rendered in
    batches of CHUNK to bound memory.
    """
    missing = [k for k in factors.RENDER_KEYS if k not in factors_dict]
    if missing:
        raise KeyError(f'render(): missing factors {missing}; factors_at() returns all of them')
    W, H = (int(v) for v in size)
    if W < 16 or H < 16:
        raise ValueError(f'render(): size must be at least 16 x 16, got {size}')
    fac = {k: np.atleast_1d(np.asarray(factors_dict[k])) for k in factors.RENDER_KEYS}
    n = max(v.shape[0] for v in fac.values())
    if any(v.ndim != 1 or v.shape[0] not in (1, n) for v in fac.values()):
        raise ValueError('render(): every factor must be a scalar or a 1-d array of one common length')
    fac = {k: np.broadcast_to(v, (n,)).astype(np.int64 if k in INT_KEYS else np.float32) for k, v in fac.items()}
    lay = scene.layout(W, H)
    out = np.empty((n, H, W, 3), dtype=np.uint8)
    for i in range(0, n, CHUNK):
        out[i:i + CHUNK] = _render_chunk(lay, {k: v[i:i + CHUNK] for k, v in fac.items()})
    return out

#----------------------------------------------------------------------------
