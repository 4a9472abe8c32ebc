"""Tests for gui_utils: a real GLFW/OpenGL/imgui window (run under `xvfb-run -a` in CI; the window
tests skip when glfw.init() fails, i.e. there is no display) and the JSON settings on disk."""

import json
import logging
import os
import warnings

import numpy as np
import pytest

pytest.importorskip('imgui_bundle', reason='gui_utils needs the viz extra (imgui-bundle)')
pytest.importorskip('OpenGL', reason='gui_utils needs the viz extra (PyOpenGL)')

import glfw  # noqa: E402  (after imgui_bundle, via the importorskip above)
from imgui_bundle import imgui  # noqa: E402

import gui_utils  # noqa: E402
from gui_utils import Texture, Window, WindowSettings, load_settings, save_settings, settings_path, widgets  # noqa: E402

#----------------------------------------------------------------------------
# A shared window: opening one costs ~0.1 s on llvmpipe.

W, H = 640, 480

@pytest.fixture(scope='module')
def win():
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # glfw warns about the missing display before returning False
        ok = glfw.init()
    if not ok:
        pytest.skip('no display: glfw.init() failed (run the GUI tests under `xvfb-run -a`)')
    with Window('gui_utils test', (W, H)) as w:
        yield w

@pytest.fixture
def tex(win):
    t = Texture(nearest=True)
    yield t
    t.close()

def show(tex, **kw):
    """A draw function showing `tex` in a borderless full-window panel; rect goes to out[0]."""
    out = []
    def draw(_win):
        with widgets.full_window():
            out.append(tex.draw(**kw))
    return draw, out

def random_image(h, w, c=3, seed=0):
    img = np.random.default_rng(seed).integers(0, 256, (h, w, c), dtype=np.uint8)
    if c == 4:
        img[:, :, 3] = 255  # opaque: imgui blends with alpha
    return img

#----------------------------------------------------------------------------
# Textures and screenshots

@pytest.mark.parametrize('c', [1, 3, 4])
def test_texture_shows_image_exactly(win, tex, c):
    img = random_image(37, 53, c)  # odd widths: rows are not 4-byte aligned
    tex.upload(img[:, :, 0] if c == 1 else img)
    draw, rect = show(tex, zoom=1)
    win.step(draw)
    r = rect[0]
    assert (r.w, r.h) == (53, 37)
    expect = np.repeat(img[:, :, :1], 3, 2) if c == 1 else img[:, :, :3]
    np.testing.assert_array_equal(win.screenshot(r), expect)

def test_integer_zoom_and_capture_in_end_frame(win, tex):
    img = random_image(20, 30, seed=1)
    tex.upload(img)
    draw, rect = show(tex, zoom=2)
    win.begin_frame()
    draw(win)
    full = win.end_frame(capture=True)
    assert full.shape == (H, W, 3)
    x, y, w, h = (int(v) for v in rect[0])
    assert (w, h) == (60, 40)
    np.testing.assert_array_equal(full[y:y + h, x:x + w], img.repeat(2, 0).repeat(2, 1))
    np.testing.assert_array_equal(win.step(draw, capture=rect[0]), full[y:y + h, x:x + w])

def test_new_image_changes_screenshot(win, tex):
    a, b = random_image(16, 24, seed=2), random_image(16, 24, seed=3)
    draw, rect = show(tex, zoom=1)
    tex.upload(a)
    win.step(draw)
    np.testing.assert_array_equal(win.screenshot(rect[-1]), a)
    tex.upload(b)  # same size: glTexSubImage2D
    win.step(draw)
    np.testing.assert_array_equal(win.screenshot(rect[-1]), b)
    c = random_image(9, 11, seed=4)
    tex.upload(c)  # new size: glTexImage2D
    win.step(draw)
    assert tex.size == (11, 9)
    np.testing.assert_array_equal(win.screenshot(rect[-1]), c)

def test_fit_keeps_aspect_and_centres(win, tex):
    tex.upload(random_image(50, 100))
    draw, rect = show(tex)
    win.step(draw)
    r = rect[0]
    assert r.w == pytest.approx(2 * r.h, abs=1)
    assert 0 <= r.x and r.x + r.w <= W and 0 <= r.y and r.y + r.h <= H
    assert r.w > 500  # fills the width minus the padding
    assert abs((r.y + r.h / 2) - H / 2) <= 1  # centred vertically
    draw, rect = show(tex, integer=True)
    win.step(draw)
    assert (rect[0].w, rect[0].h) == (600, 300)  # whole zoom 6, snapped down from ~6.2

def test_upload_rejects_bad_input(win, tex):
    with pytest.raises(TypeError):
        tex.upload(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError):
        tex.upload(np.zeros((4, 4, 2), np.uint8))

def test_texture_of_a_closed_window_does_not_free_other_textures(win, tex):
    import OpenGL.GL as gl
    img = random_image(8, 8)
    tex.upload(img)
    win.step()
    alive = [i for i in range(1, 20) if gl.glIsTexture(i)]
    with Window('second', (200, 100), visible=False):
        others = [Texture() for _ in range(20)]
    assert {t.tex_id for t in others} & set(alive)  # names are per context: the same numbers exist in `win`
    for t in others:
        t.close()  # their context is gone and `win` is current again: must only forget the ids
    assert [i for i in range(1, 20) if gl.glIsTexture(i)] == alive
    draw, rect = show(tex, zoom=1)
    win.step(draw)
    np.testing.assert_array_equal(win.screenshot(rect[0]), img)

def test_screenshot_rect_is_clipped_to_the_window(win):
    win.step()
    assert win.screenshot((W - 10, H - 5, 50, 50)).shape == (5, 10, 3)
    assert win.screenshot((-20, -20, 30, 30)).shape == (10, 10, 3)

#----------------------------------------------------------------------------
# Input, drop, close, fullscreen, scale

def test_drop_reaches_all_handlers(win):
    got = []
    win.on_drop(got.append)
    win.on_drop(lambda paths: got.append(len(paths)))
    win.drop(['/a/b.png', os.path.join('rel', 'c.mp4')])
    assert got == [['/a/b.png', os.path.join('rel', 'c.mp4')], 2]

def test_pressed_once_vs_held_and_imgui_sees_keys(win):
    seen = {}
    def probe(w):
        seen.update(pressed=w.key_pressed('space'), down=w.key_down('space'),
                    imgui=imgui.is_key_down(imgui.Key.space))
    win.feed_key('space', True)
    win.step(probe)
    assert seen == dict(pressed=True, down=True, imgui=True)
    win.step(probe)
    assert seen == dict(pressed=False, down=True, imgui=True)
    win.feed_key('space', False)
    win.step(probe)
    assert seen == dict(pressed=False, down=False, imgui=False)
    win.feed_key('right', True)
    win.step()
    win.feed_key('right', True, repeat=True)  # the OS's auto-repeat while held
    win.step(lambda w: seen.update(once=w.key_pressed('right'), rep=w.key_pressed('right', repeat=True)))
    win.feed_key('right', False)
    assert (seen['once'], seen['rep']) == (False, True)
    assert gui_utils.key_code('esc') == glfw.KEY_ESCAPE and gui_utils.key_code('left') == glfw.KEY_LEFT
    with pytest.raises(ValueError):
        gui_utils.key_code('nosuchkey')

def test_shortcuts_are_ignored_while_typing(win):
    def draw(w):
        with widgets.full_window():
            imgui.set_keyboard_focus_here()
            imgui.input_text('##field', '')
    win.step(draw)
    win.step(draw)
    seen = {}
    win.feed_key('space', True)
    def probe(w):
        draw(w)
        seen.update(plain=w.key_pressed('space'), typing=w.key_pressed('space', while_typing=True))
    win.step(probe)
    win.feed_key('space', False)
    win.step()
    assert seen == dict(plain=False, typing=True)

def test_escape_asks_before_quitting(win):
    win.confirm_quit = True
    try:
        answers, popup = [], []
        def draw(w):
            answers.append(widgets.confirm_quit_modal(w))
            popup.append(imgui.is_popup_open('Confirm quit##gui_utils'))  # inside a frame only: segfaults outside
        win.feed_key('escape', True)
        win.step(draw)
        win.step(draw)
        assert win.close_requested and not win.should_close
        assert popup[-1]
        win.feed_key('escape', True)  # Esc again answers "no"
        win.step(draw)
        win.step(draw)
        assert not win.close_requested and not win.should_close and not any(answers) and not popup[-1]
        win.request_close()  # the close button does the same
        win.step(draw)
        win.confirm_close()
        assert win.should_close
    finally:
        win.cancel_close()
        win.step(draw)  # lets the modal close itself
        win.confirm_quit = False
    win.feed_key('escape', True)  # without confirm_quit, Esc closes at once
    win.step()
    assert win.should_close
    win.cancel_close()
    assert not win.should_close

def test_run_loops_until_close(win):
    frames = []
    def draw(w):
        frames.append(1)
        if len(frames) == 3:
            w.request_close()
    win.run(draw, max_fps=1000)
    assert len(frames) == 3 and win.should_close
    win.cancel_close()

def test_f11_fullscreen_and_back(win):
    before_size, before_pos = win.size, glfw.get_window_pos(win.handle)
    win.feed_key('f11', True)
    win.step()
    assert win.fullscreen
    mode = glfw.get_video_mode(glfw.get_monitors()[0])
    assert win.size == (mode.size.width, mode.size.height)
    assert win.get_settings().size == before_size  # settings keep the windowed geometry
    win.feed_key('f11', True)
    win.step()
    assert not win.fullscreen
    assert win.size == before_size and glfw.get_window_pos(win.handle) == before_pos

def test_set_content_size(win):
    before = win.size
    try:
        win.set_content_size(300, 200)
        win.step()
        assert win.size == (300, 200)
        win.set_content_size(256, 192, region=(250, 150))  # grow the content area by (6, 42)
        win.step()
        assert win.size == (306, 242)
    finally:
        win.set_content_size(*before)
        win.step()
    assert win.size == before

def test_ui_scale(win):
    assert win.fb_scale == (1.0, 1.0) and win.content_scale == 1.0  # Xvfb has no HiDPI
    try:
        win.user_scale = 1.5
        win.step()
        assert win.ui_scale == 1.5
        assert imgui.get_style().font_scale_dpi == 1.5
        assert imgui.get_style().window_padding.x == pytest.approx(12)  # 8 scaled once, not compounded
        win.user_scale = 1.5
        win.user_scale = 9
        assert win.user_scale == 2.0
    finally:
        win.user_scale = 1.0
        win.step()
    assert imgui.get_style().window_padding.x == pytest.approx(8)

def test_demo_smoke(win, tmp_path):
    from gui_utils import demo
    out = tmp_path / 'demo.png'
    demo.main(['--frames', '3', '--screenshot', str(out)])
    from PIL import Image
    img = np.asarray(Image.open(out))
    assert img.shape == (540, 960, 3)
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 1000  # gradient and widgets, not a blank frame

def test_demo_slider_changes_the_image_through_mouse_events(win):
    from gui_utils import demo
    state, tex = demo.DemoState(), Texture()
    draw = lambda w: demo.draw(w, state, tex)
    try:
        win.step(draw)
        before = win.screenshot()
        io = imgui.get_io()
        io.add_mouse_pos_event(200, 17)  # on the 'Blue' slider, near its right end
        win.step(draw)
        io.add_mouse_button_event(0, True)
        win.step(draw)
        io.add_mouse_button_event(0, False)
        win.step(draw)
        win.step(draw)  # the new image is uploaded at the start of the next frame
        assert state.phase > 200
        assert not np.array_equal(win.screenshot(), before)
    finally:
        io.add_mouse_pos_event(-1, -1)
        tex.close()

#----------------------------------------------------------------------------
# Widget logic and settings (no display needed)

def test_range_handles_do_not_cross():
    assert widgets.uncross(10, 20, 25, 20, 0, 100) == (20, 20)  # low dragged past high
    assert widgets.uncross(10, 20, 10, 5, 0, 100) == (10, 10)  # high dragged below low
    assert widgets.uncross(10, 20, 12, 18, 0, 100) == (12, 18)
    assert widgets.uncross(10, 20, -5, 500, 0, 100) == (0, 100)  # typed values are clamped

@pytest.fixture
def config_home(tmp_path, monkeypatch):
    monkeypatch.setenv('XDG_CONFIG_HOME', str(tmp_path))
    return tmp_path

@pytest.mark.skipif(os.name == 'nt' or os.uname().sysname == 'Darwin', reason='XDG paths are for Linux/BSD')
def test_settings_path_follows_xdg(config_home, monkeypatch):
    assert settings_path('grid') == config_home / 'tlgan' / 'grid.json'
    monkeypatch.setenv('XDG_CONFIG_HOME', 'relative/dir')  # ignored, as the XDG spec says
    assert str(settings_path('grid')).startswith(os.path.expanduser('~'))
    for bad in ['../x', 'a/b', '', '.hidden']:
        with pytest.raises(ValueError):
            settings_path(bad)

def test_settings_round_trip(config_home):
    assert load_settings('explorer') == WindowSettings()  # missing file: defaults, silently
    s = WindowSettings(size=(800, 600), pos=(-10, 20), maximized=True, fullscreen=False, ui_scale=1.25,
                       app={'last_dir': '/data', 'recent': ['a.pkl', 'b.pkl'], 'opts': {'fps': 30, 'x': None}})
    path = save_settings('explorer', s)
    assert path.parent == config_home / 'tlgan'
    assert load_settings('explorer') == s
    assert os.listdir(path.parent) == ['explorer.json']  # no temp files left

def test_corrupt_settings_fall_back_to_defaults(config_home, caplog):
    path = config_home / 'tlgan' / 'grid.json'
    path.parent.mkdir()
    for text in ['{"window": {"size": [800, 6', '[1, 2]', '\xff\xfe garbage', '{"window": "x"}']:
        path.write_bytes(text.encode('latin-1'))
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger='gui_utils.settings'):
            assert load_settings('grid') == WindowSettings()
        assert len(caplog.records) == 1 and '\n' not in caplog.records[0].getMessage()

def test_bad_fields_are_dropped_not_trusted(config_home):
    path = config_home / 'tlgan' / 'grid.json'
    path.parent.mkdir()
    path.write_text(json.dumps({'window': {'size': [10 ** 9, 'x'], 'pos': [1, 2, 3], 'maximized': 'yes',
                                           'ui_scale': 50, 'fullscreen': True}, 'app': ['not', 'a', 'dict']}))
    s = load_settings('grid')
    assert s == WindowSettings(fullscreen=True, ui_scale=2.0)

def test_non_json_app_values_fail_before_writing(config_home):
    with pytest.raises((TypeError, ValueError)):
        save_settings('grid', WindowSettings(app={'f': float('nan')}))
    with pytest.raises(TypeError):
        save_settings('grid', WindowSettings(app={'obj': object()}))
    assert not (config_home / 'tlgan').exists() or os.listdir(config_home / 'tlgan') == []

def test_window_restores_saved_settings(win, config_home, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = WindowSettings(size=(420, 300), pos=(33, 44), ui_scale=0.75, app={'k': 1})
    save_settings('t', s)
    with Window('restore', settings=load_settings('t'), visible=False) as w2:
        w2.step()
        got = w2.get_settings(app={'k': 1})
    assert (got.size, got.pos, got.ui_scale, got.app) == ((420, 300), (33, 44), 0.75, {'k': 1})
    assert not (tmp_path / 'imgui.ini').exists()  # imgui's own ini file is off

#----------------------------------------------------------------------------
