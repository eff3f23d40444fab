"""The per-chipset report: chipsets (and hosts) as rows, accelerators as columns.

One section per model (by sha256): numbers of different models never share a table. Each record
counts once in a cell: the cell's latency is the median over records of each record's own median
(its p90 likewise), and the output check is the verdict of most records. No single record, however
many samples it carries, can move a cell past the honest majority. The best accelerator of a row is
the fastest one whose output check did not fail.

Rows are (chipset, source): the same chipset measured by this project's runner on the user's phone, by
Firebase Test Lab or by Qualcomm AI Hub's own runner is measured differently (another process, another
runtime build, another phone of that chipset), so each source gets its own row, named in every row of
every format. A result with status `invalid` is not a measurement: it never reaches a cell's numbers.

Text from records (names, reasons) reaches every format with control characters written out as
escapes (\n, \x07, \u202e): records stored before schema v3 refused them may still hold them, and a
newline would split a Markdown row, a bidi override reorder an HTML one.

The report is built from the few numbers per result that the store keeps in columns
(store.run_summary), never from the stored records themselves.
"""
import base64
import csv
import html
import io
import json
import unicodedata
import warnings
from collections import Counter

import numpy as np

from abpn.record.build import accelerators
from abpn.collector.store import Store, run_summary
from abpn.core.files import check_output_path, write_atomically
from abpn.core.table import format_ms, format_table
from abpn.errors import AbpnError

# Names from records may use any script; a glyph the plot font lacks is drawn as a box, not worth a warning
# per request in the server log.
warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font", category=UserWarning)

FORMATS = ("table", "md", "csv", "html")
ACCELERATOR_LABELS = {"cpu": "CPU", "gpu": "GPU", "nnapi": "NNAPI", "qnn_htp": "QNN HTP", "qnn_dsp": "QNN DSP"}
ACCELERATOR_COLORS = {"cpu": "#4e79a7", "gpu": "#f28e2b", "nnapi": "#59a14f", "qnn_htp": "#e15759",
                      "qnn_dsp": "#b07aa1"}
CHECK_MARKS = {"passed": "✓", "failed": "✗", None: "–"}
AGGREGATION = ("median over records of each record's median latency (p90 and peak memory likewise); invalid "
               "results never count; output check: the verdict of most checked records, a tie counting as failed")
# Everything is inline and there is no script: text from a record that smuggles markup gets nowhere.
CONTENT_SECURITY_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
# Charts get unreadable past this many bar groups or boxes; their titles then say how many are left out.
MAX_CHART_ROWS = 40
# Who measured (the record's source.kind), as every format shows it; this project's own runners first.
SOURCE_LABELS = {"push-and-bench": "own phone (push-and-bench)", "test-loop": "own phone (game loop)",
                 "bench-host": "host (bench-host)", "test-lab": "Firebase Test Lab", "ai-hub": "Qualcomm AI Hub"}
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text):
    """`text` with every control, line or paragraph separator and bidi-formatting character written as
    an escape, so that it stays on one line and in its place in every format."""
    if text is None:
        return None
    return "".join(_ESCAPES.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")
                   if unicodedata.category(c) in ("Cc", "Zl", "Zp") or unicodedata.bidirectional(c) in _BIDI_CONTROLS
                   else c for c in text)


_BIDI_CONTROLS = {"LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"}


def build_report(records):
    """The report of result records given as dicts; store_report() gives the same for stored ones."""
    return aggregate(run_summary(record) for record in records)


def store_report(store):
    runs, _ = store.report_runs()
    return aggregate(runs)


def aggregate(runs):
    """Report data from run summaries (store.run_summary)."""
    return Aggregate().add(runs).report()


class Aggregate:
    """The report's groups, fed run by run: after new records only their rows are worked out again, so
    a rebuild after a write costs what the written chipsets hold, not the whole database."""

    def __init__(self):
        self.sections = {}
        self.records = 0

    def add(self, runs):
        for run in runs:
            section = self.sections.setdefault(run["model_sha256"], {"descriptions": Counter(), "groups": {}})
            section["descriptions"][run["model_json"]] += 1
            chipset = printable(run["chipset"])
            group = section["groups"].setdefault((run["kind"], chipset, run["source"]), {
                "kind": run["kind"], "chipset": chipset, "source": run["source"], "soc_models": set(),
                "devices": set(), "runs": 0, "results": {}, "row": None})
            if run["soc_model"]:
                group["soc_models"].add(printable(run["soc_model"]))
            group["devices"].add(run["device"])
            group["runs"] += 1
            group["row"] = None
            for result in run["results"]:
                group["results"].setdefault(result["accelerator"], []).append(
                    {**result, "reason": printable(result.get("reason"))})
            self.records += 1
        return self

    def report(self):
        sections = []
        for section in self.sections.values():
            for group in section["groups"].values():
                if group["row"] is None:
                    group["row"] = _row(group)
            # What most records say about the model (the first seen among equals): one record
            # cannot retitle a section.
            model = json.loads(section["descriptions"].most_common(1)[0][0])
            model["file_name"] = printable(model["file_name"])
            sections.append(_section(model, [g["row"] for g in section["groups"].values()]))
        sections.sort(key=lambda s: (s["model"]["file_name"], s["model"]["sha256"]))
        return {"sections": sections, "records": self.records, "aggregation": AGGREGATION}


def _section(model, rows):
    # Phones first, by chipset name, the user's own before the services'; hosts after them.
    order = list(SOURCE_LABELS)
    rows = sorted(rows, key=lambda r: (r["kind"] != "phone", r["chipset"].lower(),
                                       order.index(r["source"]) if r["source"] in order else len(order), r["source"]))
    present = {a for r in rows for a in r["cells"]}
    # Accelerators a newer schema adds go after the known ones rather than vanish.
    known = accelerators()
    order = [a for a in known if a in present] + sorted(present - set(known))
    return {"model": model, "accelerators": order, "rows": rows}


def _row(group):
    cells = {accelerator: _cell(results) for accelerator, results in group["results"].items()}
    usable = [(c["median_ms"], a) for a, c in cells.items()
              if c["status"] == "ok" and c["output_check"] != "failed" and c["median_ms"] > 0]
    best = None
    if usable:
        median, accelerator = min(usable)
        cpu = cells.get("cpu")
        speedup = cpu["median_ms"] / median if cpu and cpu["status"] == "ok" else None
        best = {"accelerator": accelerator, "median_ms": median, "speedup_vs_cpu": speedup}
    return {"kind": group["kind"], "chipset": group["chipset"], "source": group["source"],
            "soc_models": sorted(group["soc_models"]),
            "devices": len(group["devices"]), "runs": group["runs"], "cells": cells, "best": best}


def _cell(results):
    ok = [r for r in results if r["status"] == "ok" and r["median_ms"] is not None]
    if not ok:
        statuses = [r["status"] for r in results]
        status = max(sorted(set(statuses)), key=statuses.count)
        reasons = sorted({r.get("reason") or "" for r in results if r["status"] == status} - {""})
        return {"status": status, "runs": 0, "attempts": len(results), "reasons": reasons}
    medians = np.array([r["median_ms"] for r in ok], dtype=np.float64)
    median = float(np.median(medians))
    checks = [r["check_passed"] for r in ok if r["check_passed"] is not None]
    failed = checks.count(False)
    check = ("failed" if 2 * failed >= len(checks) else "passed") if checks else None
    psnr = [r["psnr_db"] for r in ok if r["psnr_db"] is not None]
    return {
        "status": "ok", "runs": len(ok), "attempts": len(results),
        "median_ms": median,
        "p90_ms": _median_of(ok, "p90_ms"),
        "fps": 1000.0 / median if median > 0 else None,
        "init_ms": _median_of(ok, "init_ms"),
        "output_check": check,
        "checks": len(checks),
        "checks_failed": failed,
        "median_psnr_db": float(np.median(psnr)) if psnr else None,
        "peak_memory_bytes": _memory(ok),
        "run_medians_ms": medians,
    }


def _memory(results):
    """[low, high]: the medians over records of each end of the peak memory each record reports (one
    number for a process's peak RSS, so low == high; a range from AI Hub), or None."""
    reported = [r for r in results if r.get("memory_high_bytes") is not None]
    if not reported:
        return None
    return [int(np.median([r["memory_low_bytes"] for r in reported])),
            int(np.median([r["memory_high_bytes"] for r in reported]))]


def _median_of(results, key):
    # A later schema version may leave out what version 1 requires of an ok result.
    values = [r[key] for r in results if r[key] is not None]
    return float(np.median(values)) if values else None


def to_json(report):
    """The report without the per-record medians (what GET /api/report returns)."""
    def strip(cell):
        return {k: v for k, v in cell.items() if k != "run_medians_ms"}

    return {"records": report["records"], "aggregation": report["aggregation"], "sections": [
        {**s, "rows": [{**r, "cells": {a: strip(c) for a, c in r["cells"].items()}} for r in s["rows"]]}
        for s in report["sections"]]}


# ---------------------------------------------------------------------------------------------------
# Text renderings


def _cell_text(cell, mark=True):
    if cell is None:
        return ""
    if cell["status"] != "ok":
        return cell["status"]
    parts = [f"{format_ms(cell['median_ms'])} ms" + (f" (p90 {format_ms(cell['p90_ms'])})" if cell["p90_ms"] is not None else "")]
    if cell["fps"] is not None:
        parts.append(f"{cell['fps']:.1f} fps")
    if cell["init_ms"] is not None:
        parts.append(f"init {cell['init_ms']:.0f} ms")
    if cell.get("peak_memory_bytes"):
        parts.append(_memory_text(cell["peak_memory_bytes"]))
    if mark:
        parts.append(f"check {_check_text(cell)}")
    return " · ".join(parts)


def _memory_text(span):
    low, high = (value / 1e6 for value in span)
    return f"peak {low:.0f} MB" if round(low) == round(high) else f"peak {low:.0f}–{high:.0f} MB"


def source_label(source):
    return SOURCE_LABELS.get(source, source)


def _accelerator_label(accelerator):
    # A schema version newer than this code may name accelerators it has no label for.
    return ACCELERATOR_LABELS.get(accelerator, accelerator)


def _accelerator_color(accelerator):
    return ACCELERATOR_COLORS.get(accelerator, "#9c9c9c")


def _check_text(cell):
    text = CHECK_MARKS[cell["output_check"]]
    if 0 < cell["checks_failed"] < cell["checks"]:
        text += f" ({cell['checks_failed']} of {cell['checks']} failed)"
    return text


def _best_text(best):
    if best is None:
        return "–"
    text = _accelerator_label(best["accelerator"])
    if best["speedup_vs_cpu"] is not None and best["accelerator"] != "cpu":
        text += f" (×{best['speedup_vs_cpu']:.1f} vs CPU)"
    return text


def _row_name(row):
    """The row's name where there is room for one string only (the charts): chipset and source."""
    return f"{row['chipset']} · {source_label(row['source'])}"


def _model_title(model):
    shape = "x".join(str(d) for d in model["input_shape"])
    return f"{model['file_name']} (sha256 {model['sha256'][:12]}…, input {shape} {model['input_dtype']})"


def _header(section):
    return (["Chipset", "Measured by", "SoC", "Devices", "Runs"]
            + [_accelerator_label(a) for a in section["accelerators"]] + ["Best"])


def _cells(section, row):
    return ([row["chipset"], source_label(row["source"]), ", ".join(row["soc_models"]) or "–", str(row["devices"]),
             str(row["runs"])]
            + [_cell_text(row["cells"].get(a)) for a in section["accelerators"]] + [_best_text(row["best"])])


LEGEND = ("Cells: median latency (p90) · frames per second · initialization time · peak memory of the measuring "
          "process (a range where AI Hub reports one) · output check against the CPU reference (✓ passed, "
          "✗ failed, – not checked). Each record counts once: a cell is the median over records of each record's median (p90 "
          "and memory likewise), and the check is the verdict of most records; results marked invalid are not "
          "measurements and never count. Measured by: this project's runner on the user's own phone or host, "
          "Firebase Test Lab, or Qualcomm AI Hub's own runner; each is its own row. Best: the fastest accelerator "
          "whose output check did not fail, and its speed-up over the CPU.")
EMPTY = "No records in the database yet."


def render_table(report):
    if not report["sections"]:
        return EMPTY + "\n"
    out = []
    for section in report["sections"]:
        out.append(_model_title(section["model"]))
        out.append(format_table(_header(section), [_cells(section, r) for r in section["rows"]]))
        out.append("")
    out.append(LEGEND)
    return "\n".join(out) + "\n"


def _md_escape(text):
    text = html.escape(text, quote=False)
    for char in "\\|*_`[]#":
        text = text.replace(char, "\\" + char)
    return text


def render_markdown(report):
    if not report["sections"]:
        return EMPTY + "\n"
    out = []
    for section in report["sections"]:
        header = _header(section)
        out.append(f"### {_md_escape(_model_title(section['model']))}\n")
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + "|".join("---:" if h in ("Devices", "Runs") else "---" for h in header) + "|")
        for row in section["rows"]:
            out.append("| " + " | ".join(_md_escape(v) for v in _cells(section, row)) + " |")
        out.append("")
    out.append(LEGEND)
    return "\n".join(out) + "\n"


CSV_COLUMNS = ["model_file", "model_sha256", "kind", "chipset", "source", "soc_models", "devices", "runs",
               "accelerator", "status", "accelerator_runs", "median_ms", "p90_ms", "fps", "init_ms",
               "peak_memory_low_bytes", "peak_memory_high_bytes", "output_check", "median_psnr_db", "checks_failed",
               "checks", "best", "best_speedup_vs_cpu", "reasons"]


def _csv_safe(value):
    """Names come from phones: a cell starting with = + - @ would run as a spreadsheet formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def render_csv(report):
    """One line per chipset and accelerator (the long form suits spreadsheets better than the wide table)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for section in report["sections"]:
        model = section["model"]
        for row in section["rows"]:
            best = row["best"] or {}
            for accelerator in section["accelerators"]:
                cell = row["cells"].get(accelerator)
                if cell is None:
                    continue
                memory = cell.get("peak_memory_bytes") or ["", ""]
                writer.writerow([_csv_safe(value) for value in [
                    model["file_name"], model["sha256"], row["kind"], row["chipset"], row["source"],
                    ";".join(row["soc_models"]), row["devices"], row["runs"], accelerator, cell["status"], cell["runs"],
                    _number(cell.get("median_ms")), _number(cell.get("p90_ms")), _number(cell.get("fps")),
                    _number(cell.get("init_ms")), *memory, cell.get("output_check") or "",
                    _number(cell.get("median_psnr_db")),
                    cell.get("checks_failed", ""), cell.get("checks", ""),
                    "yes" if best.get("accelerator") == accelerator else "",
                    _number(best.get("speedup_vs_cpu")) if best.get("accelerator") == accelerator else "",
                    " | ".join(cell.get("reasons", [])),
                ]])
    return buffer.getvalue()


def _number(value):
    return "" if value is None else f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"


# ---------------------------------------------------------------------------------------------------
# HTML with plots


def _figure_data_uri(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _label(text, limit=40):
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _log_axis(axes):
    from matplotlib.ticker import LogLocator, NullFormatter, StrMethodFormatter

    axes.set_xscale("log")
    axes.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axes.xaxis.set_major_formatter(StrMethodFormatter("{x:g}"))
    axes.xaxis.set_minor_formatter(NullFormatter())


def _plots(section):
    """(title, data URI) pairs: median latency per chipset and accelerator, and how it spreads over records."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    rows = section["rows"]
    accelerators = section["accelerators"]
    plots = []
    ok = [(r, a) for r in rows for a in accelerators if (r["cells"].get(a) or {}).get("status") == "ok"]
    if not ok:
        return plots
    total_rows = len(rows)
    rows = rows[:MAX_CHART_ROWS]
    names = [_label(_row_name(r)) for r in rows]
    width = 0.8 / max(len(accelerators), 1)
    figure = Figure(figsize=(9, 1.0 + 0.55 * len(rows) * max(1, len(accelerators) / 2)))
    axes = figure.subplots()
    for k, accelerator in enumerate(accelerators):
        positions, medians, errors = [], [], []
        for i, row in enumerate(rows):
            cell = row["cells"].get(accelerator)
            if cell and cell["status"] == "ok":
                positions.append(i + (k - (len(accelerators) - 1) / 2) * width)
                medians.append(cell["median_ms"])
                # Records stored before the consistency checks may have a p90 under the median.
                errors.append(max(0.0, (cell["p90_ms"] or cell["median_ms"]) - cell["median_ms"]))
        if positions:
            axes.barh(positions, medians, height=width, xerr=[[0] * len(errors), errors],
                      color=_accelerator_color(accelerator), label=_accelerator_label(accelerator),
                      error_kw={"elinewidth": 1, "ecolor": "#333333"})
    axes.set_yticks(range(len(rows)), names, parse_math=False)
    axes.invert_yaxis()
    values = [r["cells"][a]["median_ms"] for r, a in ok]
    # Accelerators can differ by 100x; a linear axis would flatten the fast ones to nothing.
    wide_range = min(values) > 0 and max(values) / min(values) > 20
    if wide_range:
        _log_axis(axes)
    axes.set_xlabel("median latency, ms (whisker: p90; shorter is faster)")
    axes.legend(loc="best", fontsize="small")
    axes.grid(axis="x", alpha=0.3)
    title = "Median latency per chipset and accelerator"
    if total_rows > len(rows):
        title += f" (first {len(rows)} of {total_rows} rows)"
    plots.append((title, _figure_data_uri(figure)))

    shown = ok[:MAX_CHART_ROWS]
    figure = Figure(figsize=(9, 1.0 + 0.35 * len(shown)))
    axes = figure.subplots()
    boxes = axes.boxplot([r["cells"][a]["run_medians_ms"] for r, a in shown], orientation="horizontal", patch_artist=True,
                         showfliers=True, widths=0.6)
    for patch, (_, accelerator) in zip(boxes["boxes"], shown):
        patch.set_facecolor(_accelerator_color(accelerator))
    axes.set_yticks(range(1, len(shown) + 1),
                    [f"{_label(_row_name(r), 32)} · {_accelerator_label(a)}" for r, a in shown], parse_math=False)
    axes.invert_yaxis()
    if wide_range and all(r["cells"][a]["run_medians_ms"].min() > 0 for r, a in shown):
        _log_axis(axes)
    axes.set_xlabel("median latency of each record, ms")
    axes.grid(axis="x", alpha=0.3)
    title = "Distribution of per-record median latency"
    if len(ok) > len(shown):
        title += f" (first {len(shown)} of {len(ok)} chipset and accelerator pairs)"
    plots.append((title, _figure_data_uri(figure)))
    return plots


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.35rem 0.6rem; vertical-align: top; }
th { background: #f3f3f3; }
th[scope=row] { text-align: left; }
td.num { text-align: right; }
td.best { font-weight: 600; }
td.cell.bestcell { background: #eaf6ea; }
td.cell .fails { color: #b00020; }
td.cell .sub { color: #555; font-size: 0.85em; }
td.unavailable { color: #888; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
p.legend, p.meta { color: #555; font-size: 0.9rem; }
"""


def _html_cell(cell, is_best):
    if cell is None:
        return '<td class="cell unavailable">–</td>'
    e = html.escape
    if cell["status"] != "ok":
        reasons = "; ".join(cell["reasons"])
        return f'<td class="cell unavailable" title="{e(reasons)}">{e(cell["status"])}</td>'
    check = cell["output_check"]
    check_html = f"check {e(_check_text(cell))}"
    if check == "failed":
        psnr = f' ({cell["median_psnr_db"]:.1f} dB)' if cell["median_psnr_db"] is not None else ""
        check_html = f'<span class="fails">check {e(_check_text(cell))}{psnr}</span>'
    p90 = f' (p90 {format_ms(cell["p90_ms"])})' if cell["p90_ms"] is not None else ""
    fps = f"{cell['fps']:.1f} fps · " if cell["fps"] is not None else ""
    init = f'init {cell["init_ms"]:.0f} ms · ' if cell["init_ms"] is not None else ""
    memory = f'{_memory_text(cell["peak_memory_bytes"])} · ' if cell.get("peak_memory_bytes") else ""
    return (f'<td class="cell{" bestcell" if is_best else ""}"><b>{format_ms(cell["median_ms"])} ms</b>{p90}'
            f'<br><span class="sub">{fps}{init}{memory}{check_html} · {cell["runs"]} of {cell["attempts"]} '
            f'run{"s" if cell["attempts"] != 1 else ""}</span></td>')


def render_html(report, dashboard=False):
    e = html.escape
    title = "ABPN benchmark results" + (" (collector dashboard)" if dashboard else "")
    body = [f"<h1>{e(title)}</h1>",
            f'<p class="meta">{report["records"]} record{"s" if report["records"] != 1 else ""}.'
            + (' API: <a href="/api/records">/api/records</a>, <a href="/api/report">/api/report</a>, '
               '<a href="/docs">/docs</a>.' if dashboard else "") + "</p>"]
    if not report["sections"]:
        body.append(f"<p>{e(EMPTY)}</p>")
    for section in report["sections"]:
        body.append(f"<h2>{e(_model_title(section['model']))}</h2>")
        header = "".join(f"<th>{e(h)}</th>" for h in _header(section))
        lines = [f'<table class="report"><thead><tr>{header}</tr></thead><tbody>']
        for row in section["rows"]:
            best = (row["best"] or {}).get("accelerator")
            cells = "".join(_html_cell(row["cells"].get(a), a == best) for a in section["accelerators"])
            lines.append(
                f'<tr class="{e(row["kind"])} {e(row["source"])}"><th scope="row">{e(row["chipset"])}</th>'
                f'<td class="source">{e(source_label(row["source"]))}</td>'
                f'<td>{e(", ".join(row["soc_models"]) or "–")}</td><td class="num">{row["devices"]}</td>'
                f'<td class="num">{row["runs"]}</td>{cells}<td class="best">{e(_best_text(row["best"]))}</td></tr>')
        lines.append("</tbody></table>")
        body.append("".join(lines))
        for plot_title, uri in _plots(section):
            body.append(f'<figure class="plot"><img src="{uri}" alt="{e(plot_title)}">'
                        f"<figcaption>{e(plot_title)}</figcaption></figure>")
    body.append(f'<p class="legend">{e(LEGEND)}</p>')
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CONTENT_SECURITY_POLICY}\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{e(title)}</title>"
            f"<style>{_STYLE}</style></head><body>{''.join(body)}</body></html>\n")


RENDERERS = {"table": render_table, "md": render_markdown, "csv": render_csv, "html": render_html}


def report_text(db, fmt="table"):
    """The report of the database at `db` in one of FORMATS."""
    if fmt not in RENDERERS:
        raise AbpnError(f"unknown report format {fmt!r}; use one of {', '.join(FORMATS)}")
    return RENDERERS[fmt](store_report(Store(db, create=False)))


def write_report(db, fmt, out):
    """Writes the report of the database at `db` to the file `out`, never over a database (this one or
    another) or its journal files (abpn.core.files.check_output_path)."""
    check_output_path(out)
    write_atomically(out, report_text(db, fmt))
