"""Headless-Chromium checks of report pages: what is cut off at a given window width.

:func:`measure` loads a copy of a page (with a ``<base>`` so its figures resolve) carrying a
script that, once the page has loaded, records the page's width and every table, figure,
output or cell that reaches beyond the window, whose content is wider than its box (hidden
behind a scroll bar or clipped) or whose text is cut with an ellipsis; the record is read back
from the DOM (``--dump-dom``). :func:`full_screenshot` saves a full-page PNG at that width.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from nethelpers.exportpdf import dump_dom, screenshot

MARKER = "nethelpers-overflow"

SCRIPT = """<script>
(function () {
  function measure() {
    var root = document.documentElement, width = root.clientWidth;
    var out = {width: width, scrollWidth: root.scrollWidth, height: root.scrollHeight,
               tables: document.querySelectorAll('table').length,
               images: document.querySelectorAll('img').length, cut: []};
    var sel = 'table, img, svg, pre, figure, td, th, div, p, ul, li, h1, h2, h3';
    document.querySelectorAll(sel).forEach(function (el) {
      var r = el.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) { return; }
      var style = getComputedStyle(el), why = null;
      var clips = ['hidden', 'clip', 'auto', 'scroll'].indexOf(style.overflowX) >= 0;
      if (r.right > width + 1) { why = 'beyond the window'; }
      else if (clips && el.scrollWidth > el.clientWidth + 1) {
        why = 'content wider than its box (overflow-x ' + style.overflowX + ')'; }
      else if (style.textOverflow === 'ellipsis' && el.scrollWidth > el.clientWidth + 1) {
        why = 'text cut with an ellipsis'; }
      if ((el.tagName === 'TD' || el.tagName === 'TH')
          && /([.]{3}|\u2026)$/.test((el.innerText || '').trim())) {
        why = 'text cut with an ellipsis'; }
      if (el.tagName === 'IMG' && el.complete && el.naturalWidth === 0) {
        why = 'image not loaded'; }
      if (why) {
        out.cut.push({tag: el.tagName.toLowerCase(), cls: String(el.className).slice(0, 60),
                      why: why, right: Math.round(r.right), scrollWidth: el.scrollWidth,
                      clientWidth: el.clientWidth,
                      text: (el.innerText || el.getAttribute('alt') || '').slice(0, 80)});
      }
    });
    var pre = document.createElement('pre');
    pre.id = 'MARKER';
    pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
  }
  if (document.readyState === 'complete') { measure(); }
  else { window.addEventListener('load', measure); }
})();
</script>""".replace("MARKER", MARKER)


def _instrumented(page: Path, tmp: Path) -> Path:
    """A copy of ``page`` in ``tmp`` that resolves its links in the page's folder."""
    text = page.read_text(encoding="utf-8")
    base = f'<base href="{page.parent.resolve().as_uri()}/">'
    text = re.sub(r"<head([^>]*)>", lambda m: f"<head{m.group(1)}>{base}", text, count=1)
    text = text.replace("</body>", SCRIPT + "</body>") if "</body>" in text else text + SCRIPT
    copy = tmp / f"measure-{page.name}"
    copy.write_text(text, encoding="utf-8")
    return copy


def measure(page: Path, tmp: Path, width: int = 1280) -> dict:
    """What is cut off on ``page`` in a ``width`` px wide window (see the module)."""
    dom = dump_dom(_instrumented(page, tmp), width=width, height=900)
    found = re.search(rf'<pre id="{MARKER}">(.*?)</pre>', dom, flags=re.S)
    assert found, f"{page.name}: the measuring script did not run"
    import html

    return json.loads(html.unescape(found.group(1)))


def full_screenshot(page: Path, png: Path, height: int, width: int = 1280) -> Path:
    """A PNG of the whole page (``height``: its scroll height at ``width``)."""
    return screenshot(page, png, width=width, height=max(600, min(height, 60000)))
