"""Plain-text tables for the terminal: one formatter for every command that prints columns."""


def format_table(header, rows, *, align=None, rule=True, gap="  "):
    """`header` and `rows` (sequences of cells, turned into text with str()) as aligned columns.

    `align` holds one "<" (left) or ">" (right) per column, left by default; `rule` puts a line of
    dashes under the header. Trailing spaces are stripped, so a left-aligned last column leaves none.
    """
    table = [[str(cell) for cell in row] for row in [header, *rows]]
    columns = len(table[0])
    if any(len(row) != columns for row in table):
        raise ValueError(f"every row needs {columns} cells, as the header has")
    align = align or "<" * columns
    if len(align) != columns or set(align) - {"<", ">"}:
        raise ValueError(f"align needs one '<' or '>' per column ({columns}), got {align!r}")
    widths = [max(len(row[i]) for row in table) for i in range(columns)]

    def line(cells):
        return gap.join(cell.rjust(width) if side == ">" else cell.ljust(width)
                        for cell, width, side in zip(cells, widths, align)).rstrip()

    lines = [line(table[0])]
    if rule:
        lines.append(gap.join("-" * width for width in widths))
    lines += [line(row) for row in table[1:]]
    return "\n".join(lines)


def format_ms(value):
    """Milliseconds for a table cell: 3 significant digits or more ("9.12", "81.3", "812.5"), "-" when unknown."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "-"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"
