"""The report pages' template: figures linked to their full-resolution file, the report CSS."""

from __future__ import annotations

import base64

import nbformat
import pandas as pd
from bs4 import BeautifulSoup
from matplotlib.figure import Figure

from nethelpers.pubformat import pub_table
from nethelpers.report import render_html
from nethelpers.reportdir import FIGURE_DPI, ReportDir


def _page(tmp_path, outputs) -> BeautifulSoup:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = outputs
    nb.cells = [cell]
    nbformat.write(nb, tmp_path / "n.ipynb")
    return BeautifulSoup(render_html(tmp_path / "n.ipynb", tmp_path / "n.html").read_text(),
                         "html.parser")


def test_show_links_the_figure_to_its_svg_at_full_resolution(tmp_path):
    fig = Figure(figsize=(4.0, 3.0))
    fig.add_subplot().set_xlabel("SUV")
    image = ReportDir(tmp_path).show(fig, "f1")
    data, meta = image.data, image._repr_png_()[1]
    assert meta["href"] == "figures/f1.svg" and meta["figure"] == "figure"
    pixels = int.from_bytes(data[16:20], "big")                  # PNG IHDR width
    assert 0.8 * 4.0 * FIGURE_DPI < pixels <= 4.0 * FIGURE_DPI    # tight bbox crops a little
    assert meta["width"] == pixels // 2                          # retina: 150 px per inch
    gallery = ReportDir(tmp_path).show(fig, "g1", retina=False, dpi=110, formats=("png",))
    assert gallery._repr_png_()[1]["href"] == "figures/g1.png"
    assert gallery._repr_png_()[1]["figure"] == "gallery"

    soup = _page(tmp_path, [nbformat.v4.new_output(
        "display_data", data={"image/png": base64.b64encode(data).decode()},
        metadata={"image/png": meta})])
    link = soup.find("a", class_="nh-figure-link")
    assert link is not None and link["href"] == "figures/f1.svg"
    img = link.find("img")
    assert img["alt"] == "SUV." and "nh-figure" in img["class"]


def test_pages_carry_the_table_and_print_css(tmp_path):
    table = pub_table(pd.DataFrame({"measure": ["ppv"], "estimate": [0.5], "lower": [0.4],
                                    "upper": [0.6]}), caption="T")
    soup = _page(tmp_path, [nbformat.v4.new_output(
        "display_data", data={"text/html": table._repr_html_(), "text/plain": repr(table)})])
    css = "\n".join(style.get_text() for style in soup.find_all("style"))
    for rule in ("table.pub-table", "@media print", "break-inside: avoid",
                 "overflow-wrap: break-word", "table-header-group", "@page"):
        assert rule in css
    assert css.rindex("table.pub-table") > css.index(".jp-RenderedHTMLCommon table")  # wins
    shown = soup.find("table", class_="pub-table")
    assert shown.find("caption").get_text() == "T"
    assert [td.get_text() for td in shown.find_all("td")] == ["PPV", "0.50 (0.40–0.60)"]
