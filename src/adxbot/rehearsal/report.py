"""The rehearsal's outcome for a person: a console table and a self-contained HTML page."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime

from rich.table import Table

from adxbot.rehearsal.scenarios import ScenarioResult


def results_table(results: Sequence[ScenarioResult]) -> Table:
    """Return the table: scenario, what was done, what was expected, what happened, result."""
    table = Table(title="adxbot rehearsal: the live bot against the simulator", show_lines=True)
    table.add_column("scenario", style="bold", no_wrap=True)
    table.add_column("what was done")
    table.add_column("expected")
    table.add_column("what happened")
    table.add_column("result", no_wrap=True)
    for r in results:
        verdict = "[green]PASS[/]" if r.passed else "[bold red]FAIL[/]"
        table.add_row(r.name, r.done, r.expected, r.happened, f"{verdict}\n{r.seconds:.1f} s")
    return table


def results_html(results: Sequence[ScenarioResult], *, config_name: str) -> str:
    """Return a self-contained HTML report with every check of every scenario."""
    passed = sum(1 for r in results if r.passed)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    rows = []
    for r in results:
        checks = "".join(
            f'<li class="{"ok" if ok else "bad"}">{"✔" if ok else "✘"} {html.escape(text)}</li>'
            for ok, text in r.checks
        )
        rows.append(
            f'<tr class="{"ok" if r.passed else "bad"}"><td><b>{html.escape(r.name)}</b></td>'
            f"<td>{html.escape(r.done)}</td><td>{html.escape(r.expected)}</td>"
            f"<td><ul>{checks}</ul></td><td>{'PASS' if r.passed else 'FAIL'}<br>"
            f"{r.seconds:.1f} s</td></tr>"
        )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>adxbot rehearsal</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ border: 1px solid #ccc; padding: .4em; vertical-align: top; text-align: left; }}
tr.bad td {{ background: #fde8e8; }} li.bad {{ color: #b00; font-weight: bold; }}
li.ok {{ color: #064; }} ul {{ margin: 0; padding-left: 1em; }}
</style></head><body>
<h1>adxbot rehearsal: {passed} of {len(results)} scenarios passed</h1>
<p>Config: {html.escape(config_name)}. Run {when}. Every scenario ran the live bot (the
code path of <code>adxbot run --mode live</code>) against a fresh local simulator; no
request left this machine.</p>
<table><tr><th>scenario</th><th>what was done</th><th>expected</th><th>checks</th>
<th>result</th></tr>
{"".join(rows)}
</table></body></html>
"""
