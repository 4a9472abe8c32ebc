"""Static layout of the synthetic webcam scene and its per-size geometry cache.

A fixed webcam 10 m above a meadow looks south-west (azimuth 215 deg, so the low winter sun and winter sunsets are in
view) at three hill ranges (a snowy mountain range, forested hills, a meadow ridge), a few trees, a tower block of 14
floors that is built over the sequence, and the tower crane that builds it. Everything is placed in metres in the
camera's horizontal frame (x right, y up, z forward). `layout(W, H)` ray-casts this once per frame size into static
per-pixel arrays (plane coordinates, distances, masks, normals) that the renderer only shades per frame.
"""

import functools
import types

import numpy as np

from preproc.synth import noise

#----------------------------------------------------------------------------
# Scene constants.

CAM_HEIGHT  = 10.0  # m above the meadow
CAM_PITCH   = -5.0  # deg, negative looks down
CAM_HFOV    = 70.0  # deg
CAM_AZIMUTH = 215.0 # deg clockwise from north
REF_WIDTH   = 256   # jitter factors are in pixels at this width

# Hill ranges, far to near: distance (m), base height and relief (m), ridged (sharp peaks) or rolling profile.
HILLS = (
    dict(name='mountains', dist=18000.0, base=500.0, relief=3000.0, ridged=True, freqs=(1.1, 2.9, 6.1, 13.7), seed=1),
    dict(name='forest', dist=4500.0, base=150.0, relief=200.0, ridged=False, freqs=(1.3, 3.1, 7.7, 17.0), seed=2),
    dict(name='meadow', dist=900.0, base=4.0, relief=24.0, ridged=False, freqs=(0.8, 2.3, 5.9), seed=3),
)

# The tower: centre, footprint (width along its own x, depth along its own z), yaw, floors.
BUILDING = dict(x=30.0, z=92.0, width=26.0, depth=16.0, yaw=28.0, floors=14, floor_h=3.4, parapet=1.0, bay=3.0)
CRANE = dict(x=11.0, z=86.0, jib=38.0, counter_jib=12.0)

TREES = (
    dict(kind='deciduous', x=-15.0, z=28.0, trunk=3.2, radius=5.5, seed=1),
    dict(kind='deciduous', x=-50.0, z=110.0, trunk=3.8, radius=6.0, seed=2),
    dict(kind='deciduous', x=-2.0, z=165.0, trunk=3.0, radius=4.5, seed=3),
    dict(kind='deciduous', x=28.0, z=54.0, trunk=3.5, radius=5.0, seed=4),
    dict(kind='conifer', x=-22.0, z=75.0, height=15.0, radius=3.0, seed=5),
    dict(kind='conifer', x=-29.0, z=82.0, height=12.0, radius=2.6, seed=6),
    dict(kind='conifer', x=86.0, z=130.0, height=18.0, radius=3.6, seed=7),
)

# Fixed textures of the world (never depend on the config's seed).
def grass_texture():  return noise.fractal_texture(256, 2.0, 101)
def cloud_texture():  return noise.fractal_texture(512, 3.0, 102)
def detail_texture(): return noise.fractal_texture(256, 1.2, 103)

#----------------------------------------------------------------------------
# Small helpers shared with the renderer.

def coverage(distance_px):
    """Anti-aliased coverage of a shape from the signed distance to its edge in pixels (positive inside)."""
    return np.clip(distance_px + 0.5, 0, 1).astype(np.float32)

def smoothstep(a, b, x):
    s = np.clip((x - a) / (b - a), 0, 1)
    return s * s * (3 - 2 * s)

def line_coverage(distance, half_width, footprint):
    """Coverage of a thin line (distance and half width in metres, footprint in metres per pixel): drawn at least one
    pixel wide and dimmed by how much thinner it really is, so that sub-pixel lattice stays faint, not aliased."""
    width_px = half_width / footprint
    shown = np.maximum(width_px, 0.5)
    return coverage(shown - distance / footprint) * np.minimum(width_px / shown, 1)

def segment_distance(px, py, ax, ay, bx, by):
    """Distance from points (px, py) to the segment a-b (arrays broadcast)."""
    dx, dy = bx - ax, by - ay
    h = np.clip(((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy), 0, 1)
    return np.hypot(px - ax - h * dx, py - ay - h * dy)

def sun_vector(elevation, azimuth):
    """[N, 3] unit vectors toward the sun in the camera's horizontal frame."""
    e = np.radians(np.asarray(elevation, dtype=np.float64))
    a = np.radians(np.asarray(azimuth, dtype=np.float64) - CAM_AZIMUTH)
    return np.stack([np.cos(e) * np.sin(a), np.sin(e), np.cos(e) * np.cos(a)], axis=-1).astype(np.float32)

def _bbox(mask, pad=1):
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    h, w = mask.shape
    return (slice(max(rows[0] - pad, 0), min(rows[-1] + pad + 1, h)),
            slice(max(cols[0] - pad, 0), min(cols[-1] + pad + 1, w)))

#----------------------------------------------------------------------------
# Construction schedule: what stands at progress p (the trend factor), per frame.

def construction(trend):
    """dict of [N] float32 arrays: structure and facade heights (m), crane on/off and height, site state."""
    p = np.asarray(trend, dtype=np.float32)
    b = BUILDING
    def storeys(progress): # Floor by floor: each floor rises over the last 70% of its slot.
        x = np.clip(progress, 0, 1) * b['floors']
        return (np.floor(x) + smoothstep(0.3, 1.0, x - np.floor(x))) * b['floor_h']
    top = b['floors'] * b['floor_h']
    structure = storeys((p - 0.06) / 0.72) + b['parapet'] * smoothstep(0.76, 0.78, p)
    facade = storeys((p - 0.18) / 0.70) + b['parapet'] * smoothstep(0.86, 0.88, p)
    crane_on = ((p >= 0.03) & (p < 0.90)).astype(np.float32)
    return dict(structure=structure, facade=np.minimum(facade, structure),
                crane_on=crane_on, crane_h=np.clip(structure + 6, 20, top + 6).astype(np.float32),
                site_dirt=smoothstep(0.0, 0.03, p) * (1 - smoothstep(0.92, 0.97, p)),
                site_paved=smoothstep(0.92, 0.97, p))

#----------------------------------------------------------------------------
# Per-size geometry.

def _camera(W, H):
    f = W / 2 / np.tan(np.radians(CAM_HFOV) / 2)
    x = (np.arange(W) + 0.5 - W / 2) / f
    y = -(np.arange(H) + 0.5 - H / 2) / f
    x, y = np.meshgrid(x, y)
    p = np.radians(CAM_PITCH)
    rays = np.stack([x, y * np.cos(p) + np.sin(p), -y * np.sin(p) + np.cos(p)], axis=-1)
    rays /= np.linalg.norm(rays, axis=-1, keepdims=True)
    return f, rays

def _profile(phi, hill):
    """Hill height (m above the meadow) as a function of the view azimuth phi (radians, relative to the heading)."""
    rng = np.random.default_rng(hill['seed'])
    total = 0
    for i, freq in enumerate(hill['freqs']):
        wave = np.sin(2 * np.pi * freq * phi + rng.uniform(0, 2 * np.pi))
        total = total + 0.5**i * ((1 - np.abs(wave))**1.5 if hill['ridged'] else 0.5 + 0.5 * wave)
    return hill['base'] + hill['relief'] * total / sum(0.5**i for i in range(len(hill['freqs'])))

def _hills(f, theta, phi, ground_edge):
    layers = []
    bottom = int(np.flatnonzero((theta > ground_edge - 3 / f).any(axis=1))[-1]) + 1
    for hill in HILLS:
        height = _profile(phi, hill)
        ridge = np.arctan((height - CAM_HEIGHT) / hill['dist'])
        alpha = coverage((ridge - theta) * f)
        box = _bbox(alpha > 0)
        rows = slice(box[0].start, bottom)
        slope = np.gradient(_profile(phi[rows], hill), axis=1) / np.maximum(np.gradient(phi[rows], axis=1), 1e-6)
        slope /= hill['dist']
        normal = np.stack([-np.clip(slope, -2, 2), np.full_like(slope, 0.9), np.full_like(slope, -0.6)], axis=-1)
        normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
        height_px = CAM_HEIGHT + hill['dist'] * np.tan(theta[rows]) # Height of the hill side seen at each pixel.
        tex_x = phi[rows] * hill['dist'] / (0.02 * hill['dist'] + 8)
        tex_y = height_px / (0.01 * hill['dist'] + 4)
        layers.append(types.SimpleNamespace(
            name=hill['name'], dist=hill['dist'], rows=rows, alpha=alpha[rows], normal=normal.astype(np.float32),
            height=height_px.astype(np.float32),
            tex=noise.sample_wrap(detail_texture(), tex_y, tex_x)))
    return layers

def _ground(f, rays, theta, ground_edge):
    H, W = theta.shape
    rows = slice(int(np.flatnonzero((theta < ground_edge + 2 / f).any(axis=1))[0]), H)
    r = rays[rows]
    t = CAM_HEIGHT / np.maximum(-r[..., 1], 1e-4)
    x, z = t * r[..., 0], t * r[..., 2]
    footprint = np.maximum(t / f, t * t / (CAM_HEIGHT * f)) # metres per pixel, the longer axis
    grass = grass_texture()
    def fine(scale): # Texture detail that fades to its mean where a pixel covers more than a texel.
        return noise.sample_wrap(grass, z / scale, x / scale) * np.clip(1.5 - footprint / scale, 0, 1)
    b = BUILDING
    c, s = np.cos(np.radians(b['yaw'])), np.sin(np.radians(b['yaw']))
    a_loc, b_loc = (x - b['x']) * c + (z - b['z']) * s, -(x - b['x']) * s + (z - b['z']) * c
    path_x = -3 + 22 * np.clip(z / 78, 0, 1)**1.6 # A footpath from below the camera to the site.
    site_edge = np.minimum(b['width'] / 2 + 8 - np.abs(a_loc), b['depth'] / 2 + 8 - np.abs(b_loc))
    return types.SimpleNamespace(
        rows=rows, x=x.astype(np.float32), z=z.astype(np.float32), dist=t.astype(np.float32),
        footprint=footprint.astype(np.float32), alpha=coverage((ground_edge - theta[rows]) * f),
        grass=(0.7 * fine(6.0) + 0.5 * fine(0.8) + 0.35 * fine(0.12)).astype(np.float32),
        patches=noise.sample_wrap(grass, z / 9 + 71, x / 9 + 13).astype(np.float32),
        path=coverage((0.9 - np.abs(x - path_x)) / footprint) * coverage((78 - z) / footprint),
        site=coverage((site_edge + 1.5 * fine(2.0)) / footprint),
        a=a_loc.astype(np.float32), b=b_loc.astype(np.float32))

def _building_faces(f, rays):
    """The (up to two) faces of the tower that face the camera, as static per-pixel face coordinates."""
    b = BUILDING
    c, s = np.cos(np.radians(b['yaw'])), np.sin(np.radians(b['yaw']))
    ra, rb = rays[..., 0] * c + rays[..., 2] * s, -rays[..., 0] * s + rays[..., 2] * c
    cam_a, cam_b = -b['x'] * c - b['z'] * s, b['x'] * s - b['z'] * c
    half = dict(a=b['width'] / 2, b=b['depth'] / 2)
    top = b['floors'] * b['floor_h'] + b['parapet']
    faces = []
    for face_id, (axis, sign) in enumerate([('a', -1), ('a', 1), ('b', -1), ('b', 1)]):
        cam_n, r_n = (cam_a, ra) if axis == 'a' else (cam_b, rb)
        cam_t, r_t = (cam_b, rb) if axis == 'a' else (cam_a, ra)
        other = half['b' if axis == 'a' else 'a']
        if sign * cam_n <= half[axis]: # The camera is behind this face's plane.
            continue
        t = (sign * half[axis] - cam_n) / np.where(np.abs(r_n) > 1e-9, r_n, 1e-9)
        along = cam_t + t * r_t
        y = CAM_HEIGHT + t * rays[..., 1]
        footprint = np.clip(np.hypot(*np.gradient(along)), 1e-4, 2.0) # Huge where rays graze the plane.
        inside = coverage((other - np.abs(along)) / footprint) * (t > 0)
        box = _bbox((inside > 0) & (y > -1) & (y < top + 1))
        normal = np.array([c, 0, s]) if axis == 'a' else np.array([-s, 0, c])
        along = (along[box] + other) if sign < 0 else (other - along[box]) # 0 at the face's left edge
        y = y[box]
        floor, bay = np.floor(y / b['floor_h']).astype(np.int64), np.floor(along / b['bay']).astype(np.int64)
        faces.append(types.SimpleNamespace(
            box=box, dist=np.clip(t[box], 0, 1e5).astype(np.float32), s=along.astype(np.float32), y=y.astype(np.float32),
            fp_s=footprint[box].astype(np.float32), fp_y=(t[box] / f).astype(np.float32), inside=inside[box],
            normal=(sign * normal).astype(np.float32),
            window_rand=noise.uniform(31, face_id, floor, bay).astype(np.float32))) # Which windows light up first.
    return faces

def _plane(f, rays, z, x_range, y_range):
    """Pixels of the camera-facing plane at depth z within x_range, y_range (m): box and plane coordinates."""
    t = z / rays[..., 2]
    x, y = t * rays[..., 0], CAM_HEIGHT + t * rays[..., 1]
    box = _bbox((x > x_range[0]) & (x < x_range[1]) & (y > y_range[0]) & (y < y_range[1]), pad=2)
    if box is None:
        return None
    return types.SimpleNamespace(box=box, x=x[box].astype(np.float32), y=y[box].astype(np.float32),
                                 fp=np.float32(z / f), dist=np.float32(z))

def _conifer(f, rays, tree):
    """A spruce: a cone of drooping tiers on a short trunk."""
    r, top = tree['radius'], tree['height']
    plane = _plane(f, rays, tree['z'], (tree['x'] - r - 1, tree['x'] + r + 1), (-1, top + 1))
    if plane is None:
        return None
    dx, y = plane.x - tree['x'], plane.y
    tier = (top - y) / 2.2 - np.floor((top - y) / 2.2) # 0 at a tier's top, 1 at its bottom
    wobble = noise.sample_wrap(detail_texture(), y * 3 + tree['seed'] * 37, np.sign(dx) * 5 + tree['seed'] * 11)
    width = r * (1 - np.clip((y - 1.2) / (top - 1.2), 0, 1))**0.9 * (0.7 + 0.3 * tier) + 0.18 * wobble
    normal = np.stack([np.clip(dx / np.maximum(width, 0.3), -1, 1) * 0.8, np.full_like(dx, 0.5), np.full_like(dx, -0.6)],
                      axis=-1)
    plane.__dict__.update(
        kind='conifer', body=coverage((width - np.abs(dx)) / plane.fp) * coverage((y - 1.0) / plane.fp),
        wood=coverage((0.25 - np.abs(dx)) / plane.fp) * coverage((2.0 - y) / plane.fp) * coverage(y / plane.fp),
        tier=tier.astype(np.float32), wobble=wobble, normal=normal / np.linalg.norm(normal, axis=-1, keepdims=True),
        shadow=dict(x=tree['x'], z=tree['z'], h=top * 0.45, r=r * 0.8, trunk=1.2))
    return plane

def _deciduous(f, rays, tree):
    """A broadleaf tree: trunk, branches and fine twigs (seen in winter) and a lumpy crown disc for the leaves."""
    rng = np.random.default_rng(tree['seed'])
    r, trunk = tree['radius'], tree['trunk']
    crown_y = trunk + 0.85 * r
    plane = _plane(f, rays, tree['z'], (tree['x'] - 1.4 * r, tree['x'] + 1.4 * r), (-1, crown_y + 1.4 * r))
    if plane is None:
        return None
    dx, dy, y, fp = plane.x - tree['x'], plane.y - crown_y, plane.y, plane.fp
    angle = np.arctan2(dy, dx)
    radius = r * (1 + sum(a * np.sin(k * angle + rng.uniform(0, 2 * np.pi)) for k, a in ((3, 0.1), (5, 0.07), (9, 0.05))))
    rho = np.hypot(dx, dy * 1.1) / radius
    twigs = noise.sample_wrap(detail_texture(), y / 0.08 + 90, plane.x / 0.08 + tree['seed'] * 50)
    twigs = np.clip(twigs - 0.3, 0, 1) * np.clip(1.5 - fp / 0.08, 0.3, 1) # A haze where they are too fine to see.
    taper = 0.25 * np.clip(1.2 - y / (trunk + r), 0.2, 1.2)
    wood = line_coverage(segment_distance(dx, y, 0, 0, 0, trunk + 0.5 * r), taper, fp)
    for angle_b in rng.uniform(0.2, 0.8, 6) * np.pi: # Main branches, each forking into two.
        start_y = trunk * rng.uniform(0.9, 1.4)
        end_x, end_y = 0.8 * r * np.cos(angle_b), crown_y + 0.8 * r * np.sin(angle_b) * 0.9
        wood = np.maximum(wood, line_coverage(segment_distance(dx, y, 0, start_y, end_x, end_y), 0.09, fp))
        fork_x, fork_y = 0.5 * end_x, 0.5 * (start_y + end_y)
        for tip in angle_b + np.array([-1, 1]) * rng.uniform(0.3, 0.6, 2):
            twig = segment_distance(dx, y, fork_x, fork_y, fork_x + 0.55 * r * np.cos(tip), fork_y + 0.55 * r * np.sin(tip))
            wood = np.maximum(wood, line_coverage(twig, 0.045, fp))
    normal = np.stack([dx / r, dy / r, -np.sqrt(np.clip(1 - (dx / r)**2 - (dy / r)**2, 0.05, 1))], axis=-1)
    plane.__dict__.update(
        kind='deciduous', disc=coverage((1 - rho) * radius / fp), rho=rho.astype(np.float32),
        leaves=noise.sample_wrap(detail_texture(), y / 0.7 + tree['seed'] * 50, plane.x / 0.7),
        wood=np.maximum(wood, 0.35 * twigs * coverage((0.95 - rho) * r / fp)).astype(np.float32),
        phase=np.float32(rng.uniform(-0.01, 0.01)), # Not every tree turns on the same day.
        normal=(normal / np.linalg.norm(normal, axis=-1, keepdims=True)).astype(np.float32),
        shade=(0.75 + 0.25 * np.clip(dy / r, -1, 1)).astype(np.float32),
        shadow=dict(x=tree['x'], z=tree['z'], h=crown_y, r=r, trunk=trunk))
    return plane

@functools.lru_cache(maxsize=4)
def layout(W, H):
    """Static geometry for frames of W x H pixels (cached; the arrays are shared, do not modify them)."""
    f, rays = _camera(W, H)
    theta = np.arcsin(rays[..., 1])
    phi = np.arctan2(rays[..., 0], rays[..., 2])
    ground_edge = np.arctan(-CAM_HEIGHT / HILLS[-1]['dist']) # Beyond the nearest ridge the meadow is hidden.
    lowest_ridge = np.arctan((HILLS[0]['base'] - CAM_HEIGHT) / HILLS[0]['dist'])
    sky_rows = slice(0, int(np.flatnonzero((theta > lowest_ridge - 2 / f).any(axis=1))[-1]) + 1)
    sky = rays[sky_rows]
    cloud_t = 1500.0 / np.maximum(sky[..., 1], 0.02) # Distance to the cloud deck 1.5 km up.
    trees = [(_conifer if tree['kind'] == 'conifer' else _deciduous)(f, rays, tree) for tree in TREES]
    trees = [tree for tree in trees if tree is not None]
    crane = _plane(f, rays, CRANE['z'], (CRANE['x'] - CRANE['counter_jib'] - 2, CRANE['x'] + CRANE['jib'] + 2),
                   (-1, BUILDING['floors'] * BUILDING['floor_h'] + 20))
    objects = [(BUILDING['z'], 'building', None)] + [(t.dist, 'tree', t) for t in trees]
    if crane is not None:
        objects.append((CRANE['z'], 'crane', crane))
    return types.SimpleNamespace(
        W=W, H=H, f=np.float32(f), sky_rows=sky_rows, sky_rays=sky.astype(np.float32),
        clouds=[noise.shifted_lookup(cloud_texture(), k * cloud_t * sky[..., 2] / 60, k * cloud_t * sky[..., 0] / 60)
                for k in (1.0, 3.1)], # Two octaves; a texel of the first is 60 m of the deck.
        cloud_far=np.clip(cloud_t / 25000, 0, 1).astype(np.float32),
        stars=(noise.uniform(41, np.arange(sky_rows.stop)[:, None], np.arange(W)[None]) ** 300).astype(np.float32),
        hills=_hills(f, theta, phi, ground_edge), ground=_ground(f, rays, theta, ground_edge),
        faces=_building_faces(f, rays), trees=trees,
        objects=[(kind, obj) for _, kind, obj in sorted(objects, key=lambda o: -o[0])]) # Far to near.

#----------------------------------------------------------------------------
