# -*- coding: utf-8 -*-
"""The audit's outputs: the JSON document (roles/audit/files/audit.schema.json), one self-contained HTML page
(no external assets, no JavaScript: <details> for the evidence), and the terminal summary.

Scores: per host, (pass + warn / 2) / (pass + warn + fail), in percent; n/a does not count. Status: red
with any fail, amber with any warn, green otherwise.
"""

from __future__ import annotations

import html
from collections import Counter
from typing import Any

SCHEMA_VERSION = 1
ORDER = {"host": 0, "probe": 1}


def _counts(findings: list[dict[str, Any]]) -> dict[str, int]:
    counter = Counter(f["result"] for f in findings)
    return {key: counter.get(key, 0) for key in ("pass", "fail", "warn", "n/a")}


def score(counts: dict[str, int]) -> int:
    scored = counts["pass"] + counts["warn"] + counts["fail"]
    return 100 if not scored else round(100 * (counts["pass"] + counts["warn"] / 2) / scored)


def status(counts: dict[str, int]) -> str:
    return "red" if counts["fail"] else "amber" if counts["warn"] else "green"


def build_document(results: list[dict[str, Any]], meta: dict[str, Any]) -> dict[str, Any]:
    """The audit.json document from the per-host module results and the run's metadata."""
    findings: list[dict[str, Any]] = []
    hosts = []
    for result in sorted(results, key=lambda r: r["host"]):
        host_findings = list(result.get("findings") or [])
        if result.get("error"):
            host_findings.append({"host": result["host"], "service": "probe", "check": "audit-run", "result": "fail",
                                  "evidence": f"the checks could not run: {result['error']}"[:600],
                                  "variable": "audit_probe_host"})
        findings += host_findings
        counts = _counts(host_findings)
        hosts.append({"host": result["host"], "addresses": list(result.get("addresses") or []),
                      "services": list(dict.fromkeys(f["service"] for f in host_findings)),
                      "counts": counts, "score": score(counts), "status": status(counts),
                      "seconds": float(result.get("seconds") or 0)})
    findings.sort(key=lambda f: (f["host"], ORDER.get(f["service"], 2), f["service"], f["check"]))
    counts = _counts(findings)
    return {
        "schema_version": SCHEMA_VERSION,
        "started": meta["started"],
        "finished": meta["finished"],
        "seconds": float(meta.get("seconds") or 0),
        "probe": {"host": meta.get("probe", "localhost"), "tools": meta.get("tools") or {}},
        "inventory": list(meta.get("inventory") or []),
        "ran": {"playbook": meta.get("playbook", "playbooks/audit.yml"), "checks": meta.get("checks") or {},
                "options": meta.get("options") or {}},
        "not_audited": sorted(meta.get("not_audited") or []),
        "summary": {"hosts": len(hosts), "checks": len(findings), **counts},
        "hosts": hosts,
        "findings": findings,
    }


def summary_lines(document: dict[str, Any], paths: list[str] | None = None, limit: int = 40) -> list[str]:
    """A short terminal summary: totals, one line per host, then every fail (and warn)."""
    s = document["summary"]
    lines = [f"Bulwark audit from {document['probe']['host']}: {s['hosts']} hosts, {s['checks']} checks: "
             f"{s['pass']} pass, {s['fail']} fail, {s['warn']} warn, {s['n/a']} n/a "
             f"({document['seconds']:.1f}s)"]
    for host in document["hosts"]:
        c = host["counts"]
        lines.append(f"  {host['host']:<16} {host['status']:<5} score {host['score']:>3}  pass {c['pass']:>3}  "
                     f"fail {c['fail']:>3}  warn {c['warn']:>3}  n/a {c['n/a']:>3}")
    shown = 0
    for finding in document["findings"]:
        if finding["result"] not in ("fail", "warn") or shown >= limit:
            continue
        shown += 1
        fix = f" -> change {finding['variable']}" if finding.get("variable") else ""
        lines.append(f"  {finding['result'].upper():<4} {finding['host']} {finding['service']} {finding['check']}: "
                     f"{finding['evidence'][:220]}{fix}")
    if paths:
        lines.append(f"Report: {', '.join(paths)}")
    return lines


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f5f6f8;color:#1d2330}
header{background:#1d2330;color:#fff;padding:18px 28px}header h1{margin:0 0 4px;font-size:22px}
header p{margin:2px 0;color:#c9cfdb}main{padding:20px 28px;max-width:1280px}
.cards{display:flex;flex-wrap:wrap;gap:14px;margin-bottom:22px}
.card{background:#fff;border-radius:8px;padding:14px 18px;min-width:210px;box-shadow:0 1px 3px rgba(0,0,0,.12);
border-top:6px solid #999}.card h2{margin:0;font-size:17px}.card .score{font-size:34px;font-weight:700}
.card.green{border-color:#1e9e4a}.card.amber{border-color:#e3a008}.card.red{border-color:#d62d20}
.counts span{margin-right:10px}section.host{background:#fff;border-radius:8px;margin-bottom:20px;
box-shadow:0 1px 3px rgba(0,0,0,.12);padding:4px 18px 12px}section.host h2{font-size:18px}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:5px 8px;border-bottom:1px solid #e6e8ec;
vertical-align:top}th{font-size:12px;text-transform:uppercase;color:#5b6475}
.r{display:inline-block;min-width:44px;text-align:center;border-radius:10px;padding:1px 8px;color:#fff;
font-weight:600;font-size:12px}.r.pass{background:#1e9e4a}.r.fail{background:#d62d20}.r.warn{background:#e3a008}
.r.na{background:#9aa3b2}tr.fail td{background:#fff3f2}tr.warn td{background:#fffaeb}
details summary{cursor:pointer}details pre{white-space:pre-wrap;background:#f5f6f8;padding:8px;border-radius:4px;
margin:6px 0;font-size:12px}.var{color:#a0271c;font-weight:600}.muted{color:#5b6475}code{font-size:12px}
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def render_html(document: dict[str, Any]) -> str:
    """One self-contained page: a card per host (score, red/amber/green), then a table per host."""
    s = document["summary"]
    tools = ", ".join(f"{k} {v}" if v and "/" not in str(v) else k for k, v in sorted(document["probe"]["tools"].items())
                      if v) or "none"
    parts = [
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
        f"<title>Bulwark audit {_e(document['finished'])}</title><style>{_CSS}</style></head><body>",
        "<header><h1>Bulwark audit</h1>",
        f"<p>Run {_e(document['started'])} to {_e(document['finished'])} ({document['seconds']:.1f} s), checked from "
        f"<b>{_e(document['probe']['host'])}</b> with {_e(tools)}</p>",
        f"<p>{s['hosts']} hosts, {s['checks']} checks: {s['pass']} pass, {s['fail']} fail, {s['warn']} warn, "
        f"{s['n/a']} not applicable. Inventory: {_e(', '.join(document['inventory']) or '-')}</p></header><main>",
        "<div class=\"cards\">",
    ]
    for host in document["hosts"]:
        c = host["counts"]
        parts.append(f"<a class=\"card {host['status']}\" href=\"#host-{_e(host['host'])}\" style=\"color:inherit;"
                     f"text-decoration:none\"><h2>{_e(host['host'])}</h2><div class=\"score\">{host['score']}"
                     f"<small>%</small></div><div class=\"counts\"><span>{c['pass']} pass</span><span>{c['fail']} fail"
                     f"</span><span>{c['warn']} warn</span><span>{c['n/a']} n/a</span></div>"
                     f"<div class=\"muted\">{_e(', '.join(host['addresses']))}</div></a>")
    parts.append("</div>")
    if document.get("not_audited"):
        parts.append(f"<p class=\"muted\">Not audited (nothing declared): {_e(', '.join(document['not_audited']))}</p>")
    for host in document["hosts"]:
        parts.append(f"<section class=\"host\" id=\"host-{_e(host['host'])}\"><h2>{_e(host['host'])} "
                     f"<span class=\"r {host['status'].replace('green', 'pass').replace('red', 'fail').replace('amber', 'warn')}"
                     f"\">{host['score']}%</span></h2><table><tr><th>service</th><th>check</th><th>result</th>"
                     "<th>evidence</th></tr>")
        for finding in (f for f in document["findings"] if f["host"] == host["host"]):
            result = finding["result"]
            css = "na" if result == "n/a" else result
            evidence = _e(finding["evidence"])
            extra = ""
            if finding.get("variable"):
                extra += f"<div class=\"var\">change: {_e(finding['variable'])}</div>"
            if finding.get("details"):
                extra += f"<details><summary>details</summary><pre>{_e(chr(10).join(finding['details']))}</pre></details>"
            parts.append(f"<tr class=\"{css}\"><td><code>{_e(finding['service'])}</code></td><td>{_e(finding['check'])}"
                         f"</td><td><span class=\"r {css}\">{_e(result)}</span></td><td>{evidence}{extra}</td></tr>")
        parts.append("</table></section>")
    options = document["ran"].get("options") or {}
    parts.append("<details><summary>What ran</summary><pre>"
                 + _e("\n".join([f"playbook: {document['ran']['playbook']}"]
                                + [f"{k}: {v}" for k, v in sorted(options.items())]
                                + [f"{kind}: {', '.join(checks)}" for kind, checks in
                                   sorted((document['ran'].get('checks') or {}).items())]))
                 + "</pre></details></main></body></html>\n")
    return "".join(parts)
