# -*- coding: utf-8 -*-
"""Core of Bulwark's audit: findings, the registry of checks per service kind, and the runner.

A host's *plan* (built on the controller by the ``audit_plan`` filter from the inventory) lists its
services, each of a *kind* (``host``, ``firewall``, ``https``, ``dns``, ``mail``). Every kind has a list
of checks in ``REGISTRY``; a check is a function ``(ctx, service) -> Finding | list[Finding]`` that gets
its evidence through ``ctx.evidence(key, producer)``, so one sslyze scan or one nmap run serves all the
checks that need it, and producers of different services run in parallel threads.

Checks compare what independent clients see (nmap, sslyze, openssl, curl, dnspython) with the
declaration in the plan; they never read the managed host's files or Bulwark's own state.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
import traceback
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable, Sequence

RESULTS = ("pass", "fail", "warn", "n/a")


@dataclass
class Finding:
    """One check of one service of one host."""

    host: str
    service: str
    check: str
    result: str
    evidence: str
    variable: str | None = None  # for a fail: the declaration to change (or re-apply)
    details: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        if self.result not in RESULTS:
            raise ValueError(f"result must be one of {RESULTS}, got {self.result!r}")
        item: dict[str, Any] = {"host": self.host, "service": self.service, "check": self.check,
                                "result": self.result, "evidence": self.evidence}
        if self.variable:
            item["variable"] = self.variable
        if self.details:
            item["details"] = [str(line) for line in self.details]
        return item


@dataclass(frozen=True)
class Check:
    name: str
    func: Callable[["Context", dict[str, Any]], Any]
    needs: tuple[str, ...] = ()  # tools (see TOOLS) without which the check cannot run
    title: str = ""
    module: str = ""  # the module that registered it (see registry)


# kind -> its checks, in report order. The check modules (module_utils bulwark_audit_*) register theirs when
# imported; what the audit runs is ``registry(CHECK_MODULES)`` (bulwark_audit_checks), not whatever was imported.
REGISTRY: dict[str, list[Check]] = {}


def check(kind: str, name: str, needs: tuple[str, ...] = (), title: str = "") -> Callable:
    """Decorator: register ``func`` as check ``name`` of service kind ``kind``."""

    def register(func: Callable) -> Callable:
        checks = REGISTRY.setdefault(kind, [])
        checks[:] = [c for c in checks if c.name != name]
        doc = (func.__doc__ or "").strip().splitlines()
        checks.append(Check(name, func, needs, title or (doc[0] if doc else name), func.__module__))
        return func

    return register


def registry(modules: Sequence[ModuleType]) -> dict[str, list[Check]]:
    """The checks of ``modules`` (check modules, imported) and of this core, by kind in report order.

    Raises ValueError for a module that registered no check (listed, but not a check module).
    """
    names = {module.__name__ for module in modules} | {__name__}
    found = {kind: [c for c in checks if c.module in names] for kind, checks in REGISTRY.items()}
    silent = sorted(names - {c.module for checks in found.values() for c in checks})
    if silent:
        raise ValueError(f"not check modules (they registered no check): {', '.join(silent)}")
    return {kind: checks for kind, checks in found.items() if checks}


def _python_module(name: str) -> Callable[[], str | None]:
    def probe() -> str | None:
        try:
            module = __import__(name)
        except Exception:  # noqa: BLE001 - a broken install is as good as a missing one
            return None
        return str(getattr(module, "__version__", getattr(module, "version", "installed")))

    return probe


def _program(name: str) -> Callable[[], str | None]:
    def probe() -> str | None:
        return shutil.which(name)

    return probe


def _sslyze() -> str | None:
    try:
        from sslyze.__version__ import __version__  # type: ignore[import-not-found]
    except Exception:  # noqa: BLE001
        return None
    return str(__version__)


def _dnspython() -> str | None:
    try:
        import dns.version  # type: ignore[import-not-found]
    except Exception:  # noqa: BLE001
        return None
    return str(dns.version.version)


# The independent clients the checks use, and how to tell whether the probe has them.
TOOLS: dict[str, Callable[[], str | None]] = {
    "nmap": _program("nmap"),
    "curl": _program("curl"),
    "openssl": _program("openssl"),
    "sslyze": _sslyze,
    "dnspython": _dnspython,
    "cryptography": _python_module("cryptography"),
}


class Context:
    """What the checks of one host share: its plan, the options, the probe's tools and the evidence."""

    def __init__(self, plan: dict[str, Any], options: dict[str, Any],
                 runner: Callable[..., subprocess.CompletedProcess] | None = None,
                 tools: dict[str, str | None] | None = None) -> None:
        self.plan = plan
        self.host = str(plan["host"])
        self.options = options
        self.tools = tools if tools is not None else {name: probe() for name, probe in TOOLS.items()}
        self._runner = runner or _run
        self._lock = threading.Lock()
        self._evidence: dict[Any, Future] = {}
        self.timings: list[tuple[str, str, float]] = []  # (service, check, seconds), for benchmarks
        self.pool = ThreadPoolExecutor(max_workers=int(options.get("threads", 8)))

    @property
    def address(self) -> str | None:
        addresses = self.plan.get("addresses") or []
        return addresses[0] if addresses else None

    def has(self, tool: str) -> bool:
        return bool(self.tools.get(tool))

    def run(self, argv: list[str], timeout: float | None = None, input_text: str | None = None
            ) -> subprocess.CompletedProcess:
        return self._runner(argv, timeout=timeout or float(self.options.get("timeout", 10)), input_text=input_text)

    def evidence(self, key: Any, producer: Callable[[], Any]) -> Any:
        """The evidence under ``key``, produced once (the first caller runs ``producer``, others wait)."""
        with self._lock:
            future = self._evidence.get(key)
            owner = future is None
            if owner:
                future = Future()
                self._evidence[key] = future
        if owner:
            try:
                future.set_result(producer())
            except BaseException as exc:  # noqa: BLE001 - re-raised to every waiting check
                future.set_exception(exc)
        return future.result()

    def finding(self, service: dict[str, Any], name: str, result: str, evidence: str,
                variable: str | None = None, details: list[str] | None = None) -> Finding:
        return Finding(self.host, str(service["service"]), name, result, evidence,
                       variable if result == "fail" else None, list(details or []))

    def verdict(self, service: dict[str, Any], name: str, problems: list[str], passed: str, variable: str,
                details: list[str] | None = None) -> Finding:
        """A fail listing ``problems`` (and the variable to change) when there are any, else a pass."""
        if problems:
            return self.finding(service, name, "fail", "; ".join(problems), variable, details)
        return self.finding(service, name, "pass", passed, details=details)


def _run(argv: list[str], timeout: float, input_text: str | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input_text,
                              check=False, errors="replace")
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(argv, 124, stdout=str(exc.stdout or ""),
                                           stderr=f"timed out after {timeout:.0f}s")
    except OSError as exc:
        return subprocess.CompletedProcess(argv, 127, stdout="", stderr=str(exc))


def _as_list(value: Any) -> list[Finding]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def run_check(ctx: Context, service: dict[str, Any], item: Check) -> list[Finding]:
    started = time.monotonic()
    try:
        return _run_check(ctx, service, item)
    finally:
        ctx.timings.append((str(service["service"]), item.name, round(time.monotonic() - started, 2)))


def _run_check(ctx: Context, service: dict[str, Any], item: Check) -> list[Finding]:
    missing = [tool for tool in item.needs if not ctx.has(tool)]
    if missing:
        return [ctx.finding(service, item.name, "n/a",
                            f"not checked: the probe {ctx.options.get('probe', 'localhost')} lacks "
                            f"{', '.join(missing)}")]
    try:
        return _as_list(item.func(ctx, service))
    except Exception as exc:  # noqa: BLE001 - one broken check must not hide the others
        return [ctx.finding(service, item.name, "warn", f"the check could not run: {type(exc).__name__}: {exc}",
                            details=traceback.format_exc().splitlines()[-6:])]


def run_host(ctx: Context, checks: dict[str, list[Check]] | None = None) -> list[Finding]:
    """Every check (of ``checks``, by default every registered one) of every service in the plan, in parallel;
    findings in plan order."""
    checks = REGISTRY if checks is None else checks
    services = list(ctx.plan.get("services", []))
    findings: list[Finding] = []
    missing_tools = sorted({tool for service in services for item in checks.get(service["kind"], [])
                            for tool in item.needs if not ctx.has(tool)})
    if missing_tools:
        findings.append(Finding(ctx.host, "probe", "probe-tools", "warn",
                                f"the probe {ctx.options.get('probe', 'localhost')} lacks {', '.join(missing_tools)}: "
                                "the checks that need them are not applicable in this run"))
    gate = _reachability_gate(ctx, services)
    jobs: list[tuple[int, int, Future | list[Finding]]] = []
    for s_index, service in enumerate(services):
        for c_index, item in enumerate(checks.get(service["kind"], [])):
            if gate and service["kind"] not in ("host",):
                jobs.append((s_index, c_index, [ctx.finding(service, item.name, "n/a", gate)]))
            else:
                jobs.append((s_index, c_index, ctx.pool.submit(run_check, ctx, service, item)))
    for _s, _c, job in jobs:
        findings.extend(job if isinstance(job, list) else job.result())
    ctx.pool.shutdown(wait=True)
    return findings


def _reachability_gate(ctx: Context, services: list[dict[str, Any]]) -> str | None:
    """Why the other checks cannot run (no address, unreachable), or None."""
    host_service = next((s for s in services if s["kind"] == "host"), None)
    if host_service is None:
        return None
    status = host_reachability(ctx, host_service)
    return None if status["reachable"] else f"not checked: {status['why']}"


def host_reachability(ctx: Context, service: dict[str, Any]) -> dict[str, Any]:
    return ctx.evidence("reachability", lambda: _probe_reachability(ctx, service))


def _probe_reachability(ctx: Context, service: dict[str, Any]) -> dict[str, Any]:
    import socket

    address = ctx.address
    if not address:
        return {"reachable": False, "why": "the host has no address (ansible_host or audit_addresses)"}
    ports = [int(p) for p in service.get("tcp_ports") or [22, 443, 80, 53, 25]]
    timeout = float(ctx.options.get("connect_timeout", 3))
    seen = []
    for port in ports:
        started = time.monotonic()
        try:
            with socket.create_connection((address, port), timeout=timeout):
                return {"reachable": True, "why": f"TCP {address}:{port} accepted a connection", "tried": seen}
        except ConnectionRefusedError:
            return {"reachable": True, "why": f"TCP {address}:{port} refused (the host answers)", "tried": seen}
        except socket.gaierror as exc:
            return {"reachable": False, "why": f"{address} does not resolve ({exc})"}
        except OSError as exc:
            seen.append(f"{port}: {exc or 'timeout'} after {time.monotonic() - started:.1f}s")
    return {"reachable": False, "why": f"{address} is unreachable: no answer on TCP {', '.join(map(str, ports))}",
            "tried": seen}


@check("host", "reachable", title="The host answers on the network")
def check_reachable(ctx: Context, service: dict[str, Any]) -> Finding:
    """The host has an address and answers on one of its declared TCP ports."""
    status = host_reachability(ctx, service)
    if status["reachable"]:
        return ctx.finding(service, "reachable", "pass", status["why"])
    return ctx.finding(service, "reachable", "fail", status["why"], variable="ansible_host",
                       details=status.get("tried", []))
