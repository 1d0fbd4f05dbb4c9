"""Read the batch report back with the stdlib html.parser: KPIs, tables and cells by data-* attributes."""

from __future__ import annotations

from html.parser import HTMLParser


class ReportParser(HTMLParser):
    """Collects `data-kpi` values, tables by id (rows keyed by `data-key`, cells by `data-col`),
    element ids, script tags and the text of the page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.kpis: dict[str, str] = {}
        self.tables: dict[str, dict[str, dict[str, tuple[str, str]]]] = {}
        self.ids: set[str] = set()
        self.attrs_by_id: dict[str, dict[str, str]] = {}
        self.scripts: list[dict[str, str]] = []
        self.styles: list[str] = []
        self.text: list[str] = []
        self._table: str | None = None
        self._row: str | None = None
        self._cell: tuple[str, str] | None = None
        self._cell_text: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids.add(a["id"])
            self.attrs_by_id[a["id"]] = a
        if "data-kpi" in a:
            self.kpis[a["data-kpi"]] = a.get("data-value", "")
        if tag == "table" and "id" in a:
            self._table = a["id"]
            self.tables[self._table] = {}
        elif tag == "tr" and self._table is not None and "data-key" in a:
            self._row = a["data-key"]
            self.tables[self._table][self._row] = {}
        elif tag == "td" and self._row is not None and "data-col" in a:
            self._cell = (a["data-col"], a.get("data-value", ""))
            self._cell_text = []
        elif tag == "script":
            self.scripts.append(a)
        elif tag == "style":
            self._in_style = True

    def handle_endtag(self, tag: str) -> None:
        if (
            tag == "td"
            and self._cell is not None
            and self._table is not None
            and self._row is not None
        ):
            col, value = self._cell
            self.tables[self._table][self._row][col] = (value, "".join(self._cell_text).strip())
            self._cell = None
        elif tag == "tr":
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell_text.append(data)
        if self._in_style:
            self.styles.append(data)
        self.text.append(data)


def parse(html: str) -> ReportParser:
    parser = ReportParser()
    parser.feed(html)
    parser.close()
    return parser
