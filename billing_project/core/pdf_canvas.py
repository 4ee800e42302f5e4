"""A small page-layout engine for business documents, drawn straight onto a reportlab canvas.

Invoices, credit notes and payment receipts are text, rules and tables at fixed positions. Laying
them out in Python and drawing them with reportlab's canvas takes a few milliseconds; going through
HTML and CSS (xhtml2pdf) took 50–450 ms per document (bench/pdf.py, bench/RESULTS.md).

The engine in two steps:

1. ``Layout`` places content top-down on A4 pages: ``text`` (wrapped to a width), ``row`` (cells
   side by side, each wrapped, the tallest sets the height), ``table`` (a header repeated on each
   page and rows that never split across pages), ``rule``, ``box`` (text in a filled, bordered
   box) and ``space``. Each page is a list of drawing operations; a block that does not fit goes
   onto a new page.
2. ``Layout.render(footer)`` draws the pages, and on each page the footer, which is given the page
   number and the page count (known only once everything is placed), and returns the PDF bytes.

Text is never interpreted: a customer's name is drawn as the characters it is, so nothing in it
can fetch a resource or change the layout. The document opens no file but the fonts and nothing on
the network.

Fonts: DejaVu Sans (wide Unicode coverage) when the system has it, else reportlab's built-in
Helvetica (Latin-1). A TrueType font is parsed once per process and registered with reportlab
under its own name (``_registered_fonts``: at most two entries, the regular and bold face; they
never change an amount); each PDF embeds only the glyphs it uses.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from reportlab.lib.colors import HexColor
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import cm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

UNICODE_FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),
)
UNICODE_BOLD_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    Path("/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf"),
)

Align = Literal["left", "right"]

INK = "#1f2933"
MUTED = "#6b7280"


@dataclass(frozen=True)
class Fonts:
    regular: str
    bold: str


_registered_fonts: dict[str, str] = {}  # font file path -> the name reportlab knows it by


def _register(path: Path, name: str) -> str:
    key = path.as_posix()
    if key not in _registered_fonts:
        from reportlab.pdfbase.ttfonts import TTFont

        pdfmetrics.registerFont(TTFont(name, key))
        _registered_fonts[key] = name
    return _registered_fonts[key]


def fonts(regular: Sequence[Path] = UNICODE_FONT_CANDIDATES, bold: Sequence[Path] = UNICODE_BOLD_CANDIDATES) -> Fonts:
    """DejaVu Sans when installed (its bold face, or the regular one for bold), else Helvetica."""
    regular_path = next((path for path in regular if path.is_file()), None)
    if regular_path is None:
        return Fonts("Helvetica", "Helvetica-Bold")
    bold_path = next((path for path in bold if path.is_file()), regular_path)
    return Fonts(_register(regular_path, "BxbSans"), _register(bold_path, "BxbSans-Bold"))


@dataclass(frozen=True)
class Style:
    size: float = 9
    bold: bool = False
    color: str = INK
    leading: float = 0  # line height; 0 means 1.35 × size

    @property
    def line_height(self) -> float:
        return self.leading or self.size * 1.35


@dataclass(frozen=True)
class Cell:
    """Text in a column: lines are wrapped to the column's width, then any `below` lines (smaller
    print, such as a period or tier details) follow in their own style."""

    text: str
    style: Style = Style()
    below: tuple[tuple[str, Style], ...] = ()


@dataclass(frozen=True)
class Column:
    width: float  # a fraction of the frame's width
    align: Align = "left"


@dataclass(frozen=True)
class Border:
    width: float
    color: str


@dataclass(frozen=True)
class RowStyle:
    padding: tuple[float, float, float, float] = (0, 0, 0, 0)  # top right bottom left, in each cell
    background: str = ""
    border_top: Border | None = None
    border_bottom: Border | None = None


@dataclass(frozen=True)
class TableRow:
    cells: tuple[Cell, ...]
    style: RowStyle = RowStyle()
    span: bool = False  # one cell across every column (a group heading, "No fees.")


@dataclass
class _Page:
    ops: list[Callable[[Canvas], None]] = field(default_factory=list)


class Layout:
    """Content placed top-down on A4 pages between the margins; ``render`` draws them."""

    def __init__(
        self,
        fonts: Fonts,
        *,
        title: str = "",
        margins: tuple[float, float, float, float] = (1.6 * cm, 1.6 * cm, 2.2 * cm, 1.6 * cm),  # top right bottom left
    ) -> None:
        self.fonts = fonts
        self.title = title
        self.page_width, self.page_height = A4
        self.top, self.right, self.bottom, self.left = margins
        self.frame_width = self.page_width - self.left - self.right
        self.pages: list[_Page] = [_Page()]
        self.y = self.page_height - self.top  # the cursor: the top of the next block
        self._footer_ops: list[Callable[[Canvas], None]] = []

    # --------------------------------------------------------------------------- measuring

    def font(self, style: Style) -> str:
        return self.fonts.bold if style.bold else self.fonts.regular

    def width(self, text: str, style: Style) -> float:
        return pdfmetrics.stringWidth(text, self.font(style), style.size)

    def wrap(self, text: str, style: Style, width: float) -> list[str]:
        if not text:
            return []
        lines: list[str] = []
        for paragraph in text.split("\n"):
            lines.extend(simpleSplit(paragraph, self.font(style), style.size, width) or [""])
        return lines

    def _cell_lines(self, cell: Cell, width: float) -> list[tuple[str, Style]]:
        lines = [(line, cell.style) for line in self.wrap(cell.text, cell.style, width)]
        for text, style in cell.below:
            lines.extend((line, style) for line in self.wrap(text, style, width))
        return lines

    @staticmethod
    def _height(lines: Sequence[tuple[str, Style]]) -> float:
        return sum(style.line_height for _, style in lines)

    # --------------------------------------------------------------------------- placing

    @property
    def page(self) -> _Page:
        return self.pages[-1]

    def remaining(self) -> float:
        return self.y - self.bottom

    def new_page(self) -> None:
        self.pages.append(_Page())
        self.y = self.page_height - self.top

    def ensure(self, height: float) -> bool:
        """Start a new page unless `height` fits on this one; True when a page was started."""
        if height <= self.remaining() or self.y == self.page_height - self.top:
            return False
        self.new_page()
        return True

    def space(self, height: float) -> None:
        self.y -= height

    def _draw_lines(self, lines: Sequence[tuple[str, Style]], x: float, width: float, align: Align, top: float) -> None:
        y = top
        for text, style in lines:
            y -= style.line_height
            baseline = y + (style.line_height - style.size) / 2 + style.size * 0.22
            font = self.font(style)
            if align == "right":
                self.page.ops.append(_text(font, style, x + width, baseline, text, right=True))
            else:
                self.page.ops.append(_text(font, style, x, baseline, text))

    def text(self, text: str, style: Style = Style(), *, x: float = 0, width: float = 1, align: Align = "left") -> None:
        """A paragraph in the part of the frame from `x` to `x + width` (fractions of it)."""
        lines = [(line, style) for line in self.wrap(text, style, width * self.frame_width)]
        height = self._height(lines)
        self.ensure(height)
        self._draw_lines(lines, self.left + x * self.frame_width, width * self.frame_width, align, self.y)
        self.y -= height

    def row(
        self,
        columns: Sequence[Column],
        cells: Sequence[Cell | Sequence[Cell]],
        style: RowStyle = RowStyle(),
        *,
        x: float = 0,
        width: float = 1,
        split: bool = False,
    ) -> float:
        """Cells side by side; a cell may be a stack of cells (drawn one under the other). The row
        moves to the next page whole unless `split` (then it simply continues from where it is, as
        the two columns of a document's heading may). Returns the row's height."""
        pad_top, pad_right, pad_bottom, pad_left = style.padding
        frame_x = self.left + x * self.frame_width
        frame_width = width * self.frame_width
        placed: list[tuple[float, float, Align, list[tuple[str, Style]]]] = []
        cursor = frame_x
        for column, cell in zip(columns, cells, strict=True):
            col_width = column.width * frame_width
            stack = [cell] if isinstance(cell, Cell) else list(cell)
            lines: list[tuple[str, Style]] = []
            for item in stack:
                lines.extend(self._cell_lines(item, col_width - pad_left - pad_right))
            placed.append((cursor, col_width, column.align, lines))
            cursor += col_width
        height = max((self._height(lines) for *_, lines in placed), default=0) + pad_top + pad_bottom
        if not split:
            self.ensure(height)
        top = self.y
        if style.background:
            self.page.ops.append(_rect(frame_x, top - height, frame_width, height, fill=style.background))
        if style.border_top:
            self.page.ops.append(_line(frame_x, top, frame_x + frame_width, top, style.border_top))
        for col_x, col_width, align, lines in placed:
            self._draw_lines(lines, col_x + pad_left, col_width - pad_left - pad_right, align, top - pad_top)
        self.y = top - height
        if style.border_bottom:
            self.page.ops.append(_line(frame_x, self.y, frame_x + frame_width, self.y, style.border_bottom))
        return height

    def table(
        self, columns: Sequence[Column], header: Sequence[Cell], header_style: RowStyle, rows: Sequence[TableRow]
    ) -> None:
        """A header row, repeated at the top of every page the table continues on, then the rows;
        a row never splits across pages."""
        self.row(columns, header, header_style)
        spanning = (Column(1),)
        for table_row in rows:
            row_columns = spanning if table_row.span else columns
            if self.ensure(self._measure_row(row_columns, table_row.cells, table_row.style.padding)):
                self.row(columns, header, header_style)
            self.row(row_columns, table_row.cells, table_row.style)

    def _measure_row(self, columns: Sequence[Column], cells: Sequence[Cell], padding: tuple) -> float:
        pad_top, pad_right, pad_bottom, pad_left = padding
        tallest = 0.0
        for column, cell in zip(columns, cells, strict=True):
            width = column.width * self.frame_width - pad_left - pad_right
            tallest = max(tallest, self._height(self._cell_lines(cell, width)))
        return tallest + pad_top + pad_bottom

    def rule(self, border: Border, *, x: float = 0, width: float = 1) -> None:
        start = self.left + x * self.frame_width
        self.page.ops.append(_line(start, self.y, start + width * self.frame_width, self.y, border))

    def box(self, text: str, style: Style, *, background: str, border: Border, padding: tuple[float, float]) -> None:
        """A paragraph in a filled, bordered box the frame's width; `padding` is (vertical, horizontal)."""
        vertical, horizontal = padding
        lines = [(line, style) for line in self.wrap(text, style, self.frame_width - 2 * horizontal)]
        height = self._height(lines) + 2 * vertical
        self.ensure(height)
        self.page.ops.append(
            _rect(self.left, self.y - height, self.frame_width, height, fill=background, stroke=border)
        )
        self._draw_lines(lines, self.left + horizontal, self.frame_width - 2 * horizontal, "left", self.y - vertical)
        self.y -= height

    # --------------------------------------------------------------------------- drawing

    def render(self, footer: Callable[[Layout, int, int], None] | None = None) -> bytes:
        """The PDF: every page's operations, then `footer(layout, page_number, page_count)`, which
        draws with ``footer_text``."""
        out = io.BytesIO()
        canvas = Canvas(out, pagesize=A4, pageCompression=1, invariant=1)
        canvas.setTitle(self.title)
        canvas.setCreator("bxb")
        count = len(self.pages)
        for number, page in enumerate(self.pages, start=1):
            for op in page.ops:
                op(canvas)
            if footer is not None:
                self._footer_ops = []
                footer(self, number, count)
                for op in self._footer_ops:
                    op(canvas)
            canvas.showPage()
        canvas.save()
        return out.getvalue()

    def footer_text(self, text: str, style: Style, *, align: Align = "left", y: float = 1.2 * cm) -> None:
        """Text on the footer line, `y` above the page's bottom edge (only inside ``render``)."""
        x = self.left + self.frame_width if align == "right" else self.left
        self._footer_ops.append(_text(self.font(style), style, x, y + style.size * 0.5, text, right=align == "right"))


# ------------------------------------------------------------------------------- operations
# Each is a closure over plain values, drawn later on the canvas of the finished layout.


def _text(font: str, style: Style, x: float, y: float, text: str, *, right: bool = False) -> Callable[[Canvas], None]:
    color = HexColor(style.color)

    def draw(canvas: Canvas) -> None:
        canvas.setFont(font, style.size)
        canvas.setFillColor(color)
        if right:
            canvas.drawRightString(x, y, text)
        else:
            canvas.drawString(x, y, text)

    return draw


def _line(x1: float, y1: float, x2: float, y2: float, border: Border) -> Callable[[Canvas], None]:
    color = HexColor(border.color)

    def draw(canvas: Canvas) -> None:
        canvas.setLineWidth(border.width)
        canvas.setStrokeColor(color)
        canvas.line(x1, y1, x2, y2)

    return draw


def _rect(
    x: float, y: float, width: float, height: float, *, fill: str, stroke: Border | None = None
) -> Callable[[Canvas], None]:
    fill_color = HexColor(fill)

    def draw(canvas: Canvas) -> None:
        canvas.setFillColor(fill_color)
        if stroke is not None:
            canvas.setLineWidth(stroke.width)
            canvas.setStrokeColor(HexColor(stroke.color))
        canvas.rect(x, y, width, height, stroke=1 if stroke is not None else 0, fill=1)

    return draw
