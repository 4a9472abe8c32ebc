"""Putting rendered images together: grid tiling, time-lapse views from sweep samples, captions."""

import numpy as np
from PIL import Image, ImageDraw, ImageFont

#----------------------------------------------------------------------------

def tile(images, cols, rows):
    """[rows * cols, h, w, C] -> [rows * h, cols * w, C], row-major."""
    n, h, w, c = images.shape
    if n != rows * cols:
        raise ValueError(f'Cannot tile {n} images as {cols} x {rows}')
    return images.reshape(rows, cols, h, w, c).transpose(0, 2, 1, 3, 4).reshape(rows * h, cols * w, c)

def stack_view(samples, sources, along_x):
    """A time-lapse view from sweep samples [n, h, w, C]: output column x (row, unless along_x) is column (row)
    sources[1][x] of sample sources[0][x]."""
    sample, spatial = sources
    if along_x:
        return np.ascontiguousarray(samples[sample, :, spatial].transpose(1, 0, 2))
    return np.ascontiguousarray(samples[sample, spatial, :])

def blank(h, w, rgba=(0, 0, 0, 0)):
    out = np.empty([h, w, 4], dtype=np.uint8)
    out[:] = rgba
    return out

#----------------------------------------------------------------------------
# Captions: a label row above the columns (and optionally a label column left of the rows), fitted to the cells.

def _font(size):
    try:
        return ImageFont.load_default(size=size)
    except TypeError: # Pillow < 10.1 has one bitmap size
        return ImageFont.load_default()

def _fit_text(draw, text, width, font):
    """`text`, shortened with an ellipsis until it fits `width` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + '…', font=font) > width:
        text = text[:-1]
    return text + '…' if text else ''

def _wrap(draw, text, width, font):
    """Lines of `text` broken between words to fit `width` pixels; a word too wide for a line is shortened."""
    lines = []
    for word in str(text).split():
        if lines and draw.textlength(f'{lines[-1]} {word}', font=font) <= width:
            lines[-1] += f' {word}'
        else:
            lines.append(word)
    return [_fit_text(draw, line, width, font) for line in lines] or ['']

def caption(image, col_labels=(), row_labels=(), cell_size=None):
    """RGB(A) uint8 image with a white header of column labels (and a left margin of row labels). Column labels
    wrap between words to their cell's width and are shortened beyond it, so that neighbours never overlap.
    cell_size = (w, h) of the cells (default: the image divided evenly)."""
    h, w, c = image.shape
    cw, ch = cell_size or (w // max(len(col_labels), 1), h // max(len(row_labels), 1))
    font = _font(max(8, min(14, cw // 6)))
    probe = ImageDraw.Draw(Image.new('L', (1, 1)))
    col_lines = [_wrap(probe, label, cw - 4, font) for label in col_labels]
    line_h = font.size + 2
    header = max((len(lines) for lines in col_lines), default=0) * line_h + 4 if col_labels else 0
    margin = int(min(max((probe.textlength(str(l), font=font) for l in row_labels), default=0) + 6, w // 2)) if row_labels else 0
    mode = 'RGBA' if c == 4 else 'RGB'
    canvas = Image.new(mode, (w + margin, h + header), (255,) * len(mode))
    canvas.paste(Image.fromarray(image, mode), (margin, header))
    draw = ImageDraw.Draw(canvas)
    for k, lines in enumerate(col_lines):
        for j, line in enumerate(lines):
            draw.text((margin + k * cw + cw / 2, 2 + j * line_h + line_h / 2), line, fill='black', font=font, anchor='mm')
    for k, label in enumerate(row_labels):
        text = _fit_text(draw, str(label), margin - 4, font)
        draw.text((margin - 3, header + k * ch + ch / 2), text, fill='black', font=font, anchor='rm')
    return np.asarray(canvas)

#----------------------------------------------------------------------------
