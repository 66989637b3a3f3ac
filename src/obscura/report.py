"""One static HTML page summarising every metrics file, table and image under reports/."""

from __future__ import annotations

import html
import json
from pathlib import Path


def _table(rows: list[tuple[str, object]]) -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(_fmt(v))}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _flat(obj, prefix: str = "") -> list[tuple[str, object]]:
    if isinstance(obj, dict):
        return [kv for k, v in sorted(obj.items()) for kv in _flat(v, f"{prefix}{k}.")]
    return [(prefix.rstrip("."), obj)]


def build_index(reports: Path, out_name: str = "index.html") -> str:
    """HTML for ``reports``: a section per directory with its JSON metrics, CSV tables and images."""
    import pandas as pd

    reports = Path(reports)
    sections = []
    for directory in sorted({p.parent for p in reports.rglob("*") if p.is_file() and p.name != out_name}):
        parts = []
        for path in sorted(directory.glob("*.json")):
            try:
                data = json.loads(path.read_text())
            except json.JSONDecodeError:
                continue
            parts.append(f"<h3>{html.escape(path.name)}</h3>{_table(_flat(data))}")
        for path in sorted(directory.glob("*.csv")):
            frame = pd.read_csv(path)
            parts.append(f"<h3>{html.escape(path.name)}</h3>"
                         + frame.to_html(index=False, float_format=lambda x: f"{x:.4g}", border=0))
        images = sorted(directory.glob("*.png")) + sorted(directory.glob("*.jpg"))
        if images:
            parts.append("<div class='imgs'>" + "".join(
                f"<figure><img src='{html.escape(str(p.relative_to(reports)))}' loading='lazy'>"
                f"<figcaption>{html.escape(p.name)}</figcaption></figure>" for p in images) + "</div>")
        if parts:
            title = str(directory.relative_to(reports)) if directory != reports else "pipeline"
            sections.append(f"<section><h2>{html.escape(title)}</h2>{''.join(parts)}</section>")
    style = ("body{font-family:sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse;margin:.5em 0}"
             "th,td{border-bottom:1px solid #ddd;padding:2px 8px;text-align:left;font-size:13px}"
             ".imgs{display:flex;flex-wrap:wrap;gap:12px}img{max-width:640px;image-rendering:pixelated}"
             "figure{margin:0}figcaption{font-size:12px;color:#555}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Obscura report</title>"
            f"<style>{style}</style></head><body><h1>Obscura report</h1>"
            f"<p>Metrics, tables and images written by the DVC stages. Every run is also in MLflow "
            f"(<code>make ui</code>).</p>{''.join(sections)}</body></html>\n")
