"""A small SVG plotting kit for the analyst charts: a plot frame with scales, axes, marks and a legend.

The analyst charts are bars, lines, steps, error bars and a grid of cells; drawing them as SVG text here
takes about a millisecond a chart, where matplotlib took 0.1–0.4 s (most of a page's first view). Text
stays text (searchable, crisp), and the chart scales with its card but never grows past its drawn size.
Coordinates are pixels of the drawn size (``viewBox``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

INK, MUTED, LINE = "#1d2330", "#5d6575", "#dfe3ea"
FONT = "DejaVu Sans, Verdana, sans-serif"
CHAR_W = 0.6  # average glyph width over font size, for laying out labels and legends


def esc(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def text_width(text: str, size: float) -> float:
    return len(text) * size * CHAR_W


def nice_ticks(low: float, high: float, count: int = 5, integer: bool = False) -> list[float]:
    """Round tick values covering [low, high] (the last at or past ``high``, so marks stay inside the axis):
    steps of 1, 2, 2.5 or 5 times a power of ten."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low] if math.isfinite(low) else [0.0]
    raw = (high - low) / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    if integer:
        step = max(1.0, math.ceil(step))
    first = math.floor(low / step + 1e-9) * step
    last = math.ceil(high / step - 1e-9) * step
    return [round(first + k * step, 12) for k in range(round((last - first) / step) + 1)]


def tick_text(value: float) -> str:
    """A tick value without trailing zeros (2, 0.25, 1500, 1e-05 as 0.00001)."""
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}" if abs(value) >= 10_000 else str(int(value))
    return f"{value:.6f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class Linear:
    """Maps data values in [low, high] to pixels in [start, end] (end < start for a y axis)."""

    low: float
    high: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        span = self.high - self.low or 1.0
        return self.start + (value - self.low) / span * (self.end - self.start)


@dataclass(frozen=True)
class Log:
    """Maps positive values on a log scale (the score histogram's axis)."""

    low: float
    high: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        low, high = math.log10(self.low), math.log10(self.high)
        return self.start + (math.log10(max(value, self.low)) - low) / ((high - low) or 1.0) * (self.end - self.start)


@dataclass(frozen=True)
class Key:
    """A legend entry: ``kind`` is "box" (a filled square), "line", "dashed" or "dot" (a line with a dot)."""

    label: str
    colour: str
    kind: str = "box"


@dataclass
class Frame:
    """A chart of ``width`` by ``height`` pixels; the plot area is inset by the margins."""

    width: float
    height: float
    left: float = 62.0
    right: float = 20.0
    top: float = 38.0
    bottom: float = 52.0
    size: float = 11.0  # tick label font size, px
    parts: list[str] = field(default_factory=list)

    @property
    def x0(self) -> float:
        return self.left

    @property
    def x1(self) -> float:
        return self.width - self.right

    @property
    def y0(self) -> float:
        return self.top

    @property
    def y1(self) -> float:
        return self.height - self.bottom

    # --- scales ------------------------------------------------------------------------------------------
    def band(self, count: int) -> tuple[Callable[[float], float], float]:
        """Category positions: the centre of slot ``i`` (fractions allowed, for offsets) and a slot's width."""
        slot = (self.x1 - self.x0) / max(1, count)
        return (lambda i: self.x0 + slot * (i + 0.5)), slot

    def y(self, low: float, high: float) -> Linear:
        return Linear(low, high, self.y1, self.y0)

    # --- marks -------------------------------------------------------------------------------------------
    def rect(self, x: float, y: float, w: float, h: float, fill: str, title: str | None = None,
             opacity: float | None = None) -> None:
        if w <= 0 or h <= 0:
            return
        extra = f' fill-opacity="{opacity}"' if opacity is not None else ""
        tip = f"<title>{esc(title)}</title>" if title else ""
        close = f">{tip}</rect>" if tip else "/>"
        self.parts.append(f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" fill="{fill}"{extra}{close}')

    def line(self, x1: float, y1: float, x2: float, y2: float, stroke: str = INK, width: float = 1.0,
             dash: bool = False) -> None:
        pattern = ' stroke-dasharray="5 4"' if dash else ""
        self.parts.append(f'<line x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}" stroke="{stroke}" '
                          f'stroke-width="{width}"{pattern}/>')

    def polyline(self, points: Sequence[tuple[float, float] | None], stroke: str, width: float = 1.5,
                 fill: str = "none", opacity: float | None = None) -> None:
        """A line through ``points``; None breaks it (a window with nothing to show)."""
        runs: list[list[tuple[float, float]]] = [[]]
        for point in points:
            if point is None:
                runs.append([])
            else:
                runs[-1].append(point)
        extra = f' fill-opacity="{opacity}"' if opacity is not None else ""
        for run in runs:
            if run:
                d = " ".join(f"{_n(x)},{_n(y)}" for x, y in run)
                kind = "polygon" if fill != "none" else "polyline"
                self.parts.append(f'<{kind} points="{d}" fill="{fill}"{extra} stroke="{stroke}" '
                                  f'stroke-width="{width}" stroke-linejoin="round"/>')

    def dot(self, x: float, y: float, r: float, fill: str, title: str | None = None) -> None:
        close = f"><title>{esc(title)}</title></circle>" if title else "/>"
        self.parts.append(f'<circle cx="{_n(x)}" cy="{_n(y)}" r="{r}" fill="{fill}"{close}')

    def text(self, x: float, y: float, text: str, anchor: str = "start", fill: str = MUTED,
             size: float | None = None, rotate: float | None = None, weight: str | None = None,
             middle: bool = True) -> None:
        turn = f' transform="rotate({rotate} {_n(x)} {_n(y)})"' if rotate is not None else ""
        bold = f' font-weight="{weight}"' if weight else ""
        base = ' dominant-baseline="central"' if middle else ""
        self.parts.append(f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}" font-size="{size or self.size}" '
                          f'fill="{fill}"{base}{bold}{turn}>{esc(text)}</text>')

    # --- axes --------------------------------------------------------------------------------------------
    def y_axis(self, scale: Linear, ticks: Sequence[float], label: str = "", right: bool = False,
               colour: str = MUTED, fmt: Callable[[float], str] = tick_text) -> None:
        """Ticks and their values on the left (or right) edge of the plot, and the axis title beside them."""
        x = self.x1 if right else self.x0
        self.line(x, self.y0, x, self.y1, LINE)
        widest = 0.0
        for value in ticks:
            y = scale(value)
            self.line(x, y, x + (4 if right else -4), y, colour)
            text = fmt(value)
            widest = max(widest, text_width(text, self.size))
            self.text(x + (7 if right else -7), y, text, "start" if right else "end", colour)
        if label:
            gap = widest + 16
            at = x + gap if right else x - gap
            self.text(at, (self.y0 + self.y1) / 2, label, "middle", colour if right else INK,
                      rotate=90 if right else -90)

    def x_categories(self, labels: Sequence[str], centre: Callable[[float], float]) -> None:
        """Category labels under the plot, one in every few when crowded, slanted past seven."""
        self.line(self.x0, self.y1, self.x1, self.y1, LINE)
        step = max(1, math.ceil(len(labels) / 14))
        slanted = len(labels) > 7
        for i in range(0, len(labels), step):
            x = centre(i)
            self.line(x, self.y1, x, self.y1 + 4, MUTED)
            if slanted:
                self.text(x + 3, self.y1 + 10, labels[i], "end", rotate=-45, middle=False)
            else:
                for k, part in enumerate(labels[i].split("\n")):
                    self.text(x, self.y1 + 14 + k * (self.size + 2), part, "middle", INK if k else MUTED)

    def x_numbers(self, scale: Linear | Log, ticks: Sequence[float], fmt: Callable[[float], str], label: str) -> None:
        self.line(self.x0, self.y1, self.x1, self.y1, LINE)
        for value in ticks:
            x = scale(value)
            self.line(x, self.y1, x, self.y1 + 4, MUTED)
            self.text(x, self.y1 + 13, fmt(value), "middle")
        if label:
            self.text((self.x0 + self.x1) / 2, self.y1 + 32, label, "middle", INK)

    def legend(self, keys: Sequence[Key], x: float | None = None, y: float = 12.0, columns: int | None = None,
               size: float = 10.5) -> None:
        """A row (or rows of ``columns``) of keys from (x, y); text as long as it needs."""
        x = self.x0 if x is None else x
        per_row = columns or len(keys)
        widths = [28 + text_width(k.label, size) for k in keys]
        column_w = [max(widths[i::per_row], default=0) for i in range(per_row)]
        for i, key in enumerate(keys):
            row, col = divmod(i, per_row)
            left = x + sum(column_w[:col])
            cy = y + row * (size + 6)
            if key.kind == "box":
                self.rect(left, cy - 5, 12, 10, key.colour)
            else:
                self.line(left, cy, left + 16, cy, key.colour, 2 if key.kind != "dashed" else 1.2, key.kind == "dashed")
                if key.kind == "dot":
                    self.dot(left + 8, cy, 3, key.colour)
            self.text(left + (20 if key.kind != "box" else 16), cy, key.label, fill=INK, size=size)

    def svg(self, label: str) -> str:
        """The chart as an inline ``<svg>``: shrinks with its container, never wider than drawn."""
        return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" aria-label="{esc(label)}" '
                f'viewBox="0 0 {_n(self.width)} {_n(self.height)}" style="max-width:{self.width:.0f}px" '
                f'font-family="{FONT}">{"".join(self.parts)}</svg>')
