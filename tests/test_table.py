"""The one plain-text table formatter every command prints its columns with."""
import pytest

from abpn.core.table import format_table


def test_columns_line_up_whatever_the_cell_widths():
    text = format_table(["name", "ms"], [["cpu", 812.5], ["qnn_htp", "9.1"]], align="<>")
    lines = text.splitlines()
    assert lines == ["name        ms",
                     "-------  -----",
                     "cpu      812.5",
                     "qnn_htp    9.1"]


def test_no_trailing_spaces_and_an_optional_rule():
    lines = format_table(["a", "note"], [["long cell", ""], ["b", "x"]], rule=False).splitlines()
    assert lines == ["a          note", "long cell", "b          x"]


@pytest.mark.parametrize("rows, align", [([["only one"]], None), ([["a", "b"]], "<^")])
def test_mismatched_rows_or_alignment_are_refused(rows, align):
    with pytest.raises(ValueError):
        format_table(["a", "b"], rows, align=align)
