# -*- coding: utf-8 -*-
"""The TLS site model shared by nginx_tls and apache_tls, computed from the Mozilla profile data.

Filters:

* ``tls_site_model`` - checks ``tls_sites`` against the profile and the host's certificates and returns
  the effective profile, the normalised sites, the problems (which fail the play) and notes (printed).
* ``tls_pem_bundle`` - one PEM bundle from several PEM texts, each certificate once.
* ``tls_server_config`` - everything the server roles hand to config_apply (files, links, removals, owned
  globs, directories), the published fact included, from the model and the server's layout.
* ``tls_published_fact`` - the local fact ``bulwark_tls`` that says what the host serves (the contract other
  roles read, e.g. dns_records).
* ``tls_site_certificates`` - every certificate entry of the sites, those of ``acme:`` sites included, for the
  host inspection (tls_inspect).
* ``tls_acme_certificates`` - the sites with ``acme:`` as certificates for the acme_certificates role.

A site may say ``acme: {key_types, challenge, dane}`` instead of listing certificates: its certificates are the
files acme_certificates keeps (shared module_utils ``bulwark_acme``). Until one exists (a new host, before its
first order) the site is served over HTTP only, with the ACME challenge directory: never over TLS with a
placeholder.

Pure Python (standard library, ansible and the ``shared`` role's module_utils), so the rules are
unit-tested without a host: tests/unit/test_tls_common_filters.py.

A value of the wrong type (a string where a list belongs, a list where a site belongs...) raises
AnsibleFilterError naming the argument; a value of the right type that cannot be served becomes one of
the model's ``problems``. Neither quotes a long value or anything that looks like key material
(``bulwark_messages.describe``).
"""

from __future__ import annotations

import json
import posixpath
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

try:  # the collection bulwark.hardening
    from ansible_collections.bulwark.hardening.plugins.module_utils import (
        bulwark_acme, bulwark_dns, bulwark_messages, bulwark_pem)
except ImportError:  # a role of the repository, or vendored: module_utils of the `shared` role
    sys.path.append(str(Path(__file__).resolve().parents[2] / "shared" / "module_utils"))
    import bulwark_acme  # type: ignore[no-redef]
    import bulwark_dns  # type: ignore[no-redef]
    import bulwark_messages  # type: ignore[no-redef]
    import bulwark_pem  # type: ignore[no-redef]

describe = bulwark_messages.describe

# Defaults of one tls_sites entry; meta/argument_specs.yml states the same (a unit test compares them).
SITE_DEFAULTS: dict[str, Any] = {"aliases": [], "ocsp_stapling": "auto", "breach": "referer"}
HSTS_DEFAULTS: dict[str, Any] = {"include_subdomains": False, "preload": False}
# Defaults of a site's `acme:` (meta/argument_specs.yml states the same).
ACME_DEFAULTS: dict[str, Any] = {"key_types": ["ecdsa"], "challenge": "http-01", "dane": True}
ACME_KEYS = tuple(ACME_DEFAULTS)
OVERRIDE_KEYS = ("tls_versions", "ciphers", "ciphersuites", "groups")
# hstspreload.org: the header must carry max-age of at least one year, includeSubDomains and preload.
PRELOAD_MIN_AGE = 31536000

# The longest HSTS max-age accepted: 2^31-1 seconds (68 years), far past what browsers keep.
MAX_HSTS_AGE = 2**31 - 1
STAPLING_MODES = ("auto", "on", "off")
BREACH_MODES = ("referer", "no_compression", "off")

# Paths and URLs end up inside server configuration: no whitespace, quotes, braces, ';' or '$'.
# Always used with fullmatch: a trailing newline is not "the end" of a value.
_PATH_RE = re.compile(r"/[^\s;{}'\"\\$#]{0,4095}")
_UPSTREAM_RE = re.compile(r"https?://(?:\[[0-9a-fA-F:.]{2,45}\]|[A-Za-z0-9.-]{1,253})(?::\d{1,5})?(?:/[^\s;{}'\"\\$#]{0,4095})?")
_OPENSSL_TOKEN_RE = re.compile(r"[A-Za-z0-9_+!@=.-]{1,128}")
_PATH_RULE = "is not an absolute path without spaces, quotes, braces, ';', '#' or '$'"


def _fail(message: str) -> AnsibleFilterError:
    return AnsibleFilterError(f"tls_site_model: {message}")


def _mapping(value: Any, arg: str, optional: bool = True) -> Mapping[str, Any]:
    """``value`` if it is a dict (None: an empty one when ``optional``), else an error naming ``arg``."""
    if value is None and optional:
        return {}
    if not isinstance(value, Mapping):
        raise _fail(f"{arg} must be a dict, got {describe(value)}")
    return value


def _list(value: Any, arg: str) -> list[Any]:
    """``value`` if it is a list (None: an empty one), else an error naming ``arg``."""
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise _fail(f"{arg} must be a list, got {describe(value)}")
    return list(value)


def _strings(value: Any, arg: str) -> list[str]:
    """``value`` if it is a list of strings (None: an empty one), else an error naming ``arg``."""
    items = _list(value, arg)
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise _fail(f"{arg}[{index}] must be a string, got {describe(item)}")
    return items


def _optional_str(value: Any, arg: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise _fail(f"{arg} must be a string, got {describe(value)}")
    return value


def _flag(value: Any, arg: str) -> bool:
    """A strict Ansible boolean: the string "false" is false, a list is an error."""
    try:
        return bool(boolean(value, strict=True))
    except (TypeError, ValueError):
        raise _fail(f"{arg} must be a boolean, got {describe(value)}") from None


def is_config_path(value: Any) -> bool:
    """Whether ``value`` is an absolute path that is safe to write into server configuration."""
    return isinstance(value, str) and _PATH_RE.fullmatch(value) is not None


def _token(value: Any) -> str:
    """An OpenSSL name for a message: as it is when it is one, else described."""
    return value if isinstance(value, str) and _OPENSSL_TOKEN_RE.fullmatch(value) else describe(value)


def _version(text: str | None) -> tuple[int, ...]:
    """``"3.5.1"`` -> ``(3, 5, 1)``; an unknown version sorts before every real one."""
    if not isinstance(text, str) or not text:
        return ()
    return tuple(int(part) for part in re.findall(r"\d{1,9}", text)[:3])


def effective_profile(
    name: str,
    guidelines: Mapping[str, Any],
    generator: Mapping[str, Any],
    overrides: Mapping[str, Any] | None,
    openssl_version: str | None,
) -> tuple[dict[str, Any], list[str]]:
    """The profile ``name`` as the servers render it, and notes on what was left out or replaced."""
    guidelines = _mapping(guidelines, "guidelines", optional=False)
    configurations = _mapping(guidelines.get("configurations"), "guidelines.configurations", optional=False)
    if not isinstance(name, str) or name not in configurations:
        raise AnsibleFilterError(f"tls_profile: unknown profile {describe(name)}; the data file has "
                                 f"{sorted(str(key) for key in configurations)}")
    try:
        profile, notes = _profile_from_data(name, configurations[name], _mapping(generator, "generator", False),
                                            openssl_version)
        profile["version"] = guidelines.get("version")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise _fail(f"guidelines/generator: the profile data of {name} is not in the Mozilla guidelines form "
                    f"({type(exc).__name__})") from None
    overrides = _mapping(overrides, "overrides")
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in OVERRIDE_KEYS:
            raise AnsibleFilterError(f"tls_profile_overrides: unknown key {describe(key)}; use {', '.join(OVERRIDE_KEYS)}")
        tokens = _strings(value, f"tls_profile_overrides.{key}")
        notes.append(f"tls_profile_overrides.{key} replaces the profile's {key}: {':'.join(map(_token, tokens))}")
        profile[key] = tokens
    return profile, notes


def _profile_from_data(name: str, config: Any, generator: Mapping[str, Any],
                       openssl_version: str | None) -> tuple[dict[str, Any], list[str]]:
    """The profile ``name`` from its guidelines entry ``config``; KeyError/TypeError when malformed."""
    notes: list[str] = []
    shown_version = openssl_version if isinstance(openssl_version, str) else None
    groups = []
    for group in config["tls_curves"]:
        minimum = generator.get("group_min_openssl", {}).get(group)
        if minimum and _version(openssl_version) < _version(minimum):
            notes.append(f"group {group} left out: the host's OpenSSL {describe(shown_version) if shown_version else '(unknown)'} "
                         f"is older than {minimum}")
            continue
        groups.append(group)
    profile: dict[str, Any] = {
        "name": name,
        "tls_versions": list(config["tls_versions"]),
        "ciphers": list(config["ciphers"]["openssl"]),
        "ciphersuites": list(config["ciphersuites"]),
        "groups": groups,
        "server_preferred_order": bool(config["server_preferred_order"]),
        "hsts_min_age": int(config["hsts_min_age"]),
        "certificate_types": list(config["certificate_types"]),
        "session_timeout": int(generator["session_timeout"]),
        "session_tickets_off_before_nginx": str(generator["session_tickets_off_before_nginx"]),
    }
    return profile, notes


def _profile_problems(profile: Mapping[str, Any]) -> list[str]:
    problems = []
    for key in OVERRIDE_KEYS:
        for token in profile[key]:
            if not isinstance(token, str) or not _OPENSSL_TOKEN_RE.fullmatch(token):
                problems.append(f"tls_profile_overrides.{key}: {describe(token)} is not an OpenSSL name "
                                "(letters, digits and _+!@=.- only)")
    if not profile["tls_versions"]:
        problems.append("tls_profile_overrides.tls_versions: at least one TLS version is needed")
    return problems


def name_matches(name: str, pattern: str) -> bool:
    """Whether certificate name ``pattern`` (possibly ``*.example.org``) covers host ``name``."""
    name, pattern = name.lower().rstrip("."), pattern.lower().rstrip(".")
    if pattern.startswith("*."):
        head, _dot, rest = name.partition(".")
        return bool(head) and head != "*" and rest == pattern[2:] or name == pattern
    return name == pattern


def hsts_header(hsts: Mapping[str, Any]) -> str:
    """The Strict-Transport-Security value for an hsts setting."""
    parts = [f"max-age={bulwark_messages.format_int(int(hsts['max_age']))}"]
    if hsts["include_subdomains"]:
        parts.append("includeSubDomains")
    if hsts["preload"]:
        parts.append("preload")
    return "; ".join(parts)


def _file_id(name: str) -> str:
    return name.replace("*", "_wildcard")


def _site_name(value: Any) -> str:
    """A site name for a message: as it is when it is a DNS name, else described."""
    if isinstance(value, str) and not bulwark_dns.name_problem(value.lower(), wildcard=True):
        return value
    return "?" if value is None else describe(value)


def _path_text(value: Any) -> str:
    """A path for a message: as it is when it is a valid configuration path, else described."""
    return str(value) if is_config_path(value) else describe(value)


class _SiteChecker:
    """Normalises one tls_sites entry and collects its problems and notes."""

    def __init__(self, index: int, site: Mapping[str, Any], profile: Mapping[str, Any],
                 inspected: Mapping[tuple[str, str, str], Mapping[str, Any]] | None, bundle_dir: str,
                 acme_dir: str = bulwark_acme.DEFAULT_DIR) -> None:
        self.arg = f"tls_sites[{index}]"
        self.label = f"{self.arg} ({_site_name(site.get('name'))})"
        self.site = site
        self.profile = profile
        self.inspected = inspected
        self.bundle_dir = bundle_dir
        self.acme_dir = acme_dir
        self.problems: list[str] = []
        self.notes: list[str] = []

    def problem(self, text: str) -> None:
        self.problems.append(f"{self.label}: {text}")

    def run(self) -> dict[str, Any]:
        site = {**SITE_DEFAULTS, **{k: v for k, v in self.site.items() if v is not None}}
        names = self._names(site)
        site_id = _file_id(names[0]) if names else ""
        acme = self._acme(site, names)
        entries = acme_entries(site_id, acme, self.acme_dir) if acme else \
            _list(site.get("certificates"), f"{self.arg}.certificates")
        certificates = self._certificates(entries, names, acme is not None)
        hsts = self._hsts(site)
        model: dict[str, Any] = {
            "name": names[0] if names else _site_name(site.get("name")),
            "id": site_id,
            "acme": acme,
            # An ACME site without a usable certificate yet: HTTP (with the challenge directory) only.
            "pending": acme is not None and not certificates,
            "acme_missing": len(entries) - len(certificates) if acme else 0,
            "aliases": names[1:],
            "server_names": names,
            "certificates": certificates,
            "hsts": hsts,
            "hsts_header": hsts_header(hsts),
            "breach": self._choice(site, "breach", BREACH_MODES),
            "root": _optional_str(site.get("root"), f"{self.arg}.root"),
            "upstream": _optional_str(site.get("upstream"), f"{self.arg}.upstream"),
        }
        self._content(model)
        model["ocsp_stapling"] = self._stapling(self._choice(site, "ocsp_stapling", STAPLING_MODES), certificates)
        # The servers verify stapled responses against one CA file: the chain, or a bundle of the chains
        # when the site's certificates come from different CAs (RSA and ECDSA intermediates differ).
        # Only paths (a chain that is not one is already a problem): str() of a hostile value can raise.
        chains = list(dict.fromkeys(c["chain"] for c in certificates if isinstance(c["chain"], str)))
        model["chains"] = chains
        model["trusted_chain"] = None
        if model["ocsp_stapling"] and chains:
            model["trusted_chain"] = chains[0] if len(chains) == 1 else f"{self.bundle_dir}/{model['id']}.chains.pem"
        return model

    def _choice(self, site: Mapping[str, Any], key: str, choices: Sequence[str]) -> str:
        value = site[key]
        if not isinstance(value, str) or value not in choices:
            self.problem(f"{key}: {describe(value)} is not one of {', '.join(choices)}")
            return choices[-1]  # "off": never more than asked for
        return value

    def _names(self, site: Mapping[str, Any]) -> list[str]:
        name = site.get("name")
        if name is None:
            self.problem("name is required")
            name = ""
        elif not isinstance(name, str):
            raise _fail(f"{self.arg}.name must be a string, got {describe(name)}")
        names = [name, *_strings(site["aliases"], f"{self.arg}.aliases")]
        for item in names:
            if bulwark_dns.name_problem(item.lower(), wildcard=True):
                self.problem(f"{describe(item)} is not a DNS name (name and aliases: letters, digits, '-', '.'; "
                             "a leading '*.' for a wildcard)")
        lowered = [item.lower() for item in names]
        for item in sorted({n for n in lowered if lowered.count(n) > 1}):
            self.problem(f"name {_site_name(item)} is listed twice (name and aliases)")
        return list(dict.fromkeys(lowered))

    def _acme(self, site: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any] | None:
        """The site's ``acme:`` with its defaults, or None; what cannot work is a problem naming the site."""
        if site.get("acme") is None:
            return None
        given = _mapping(site["acme"], f"{self.arg}.acme")
        acme = {**ACME_DEFAULTS, **{k: v for k, v in given.items() if v is not None}}
        for key in sorted(set(acme) - set(ACME_KEYS)):
            self.problem(f"acme: unknown key {describe(key)}; use {', '.join(ACME_KEYS)}")
        if site.get("certificates"):
            self.problem("give certificates or acme, not both (acme: the certificates come from acme_certificates)")
        key_types = _strings(acme["key_types"], f"{self.arg}.acme.key_types")
        for key_type in key_types:
            if key_type not in bulwark_acme.KEY_TYPES:
                self.problem(f"acme.key_types: {describe(key_type)} is unknown; use {', '.join(bulwark_acme.KEY_TYPES)}")
        if not key_types or len(set(key_types)) != len(key_types):
            self.problem(f"acme.key_types: name each of {', '.join(bulwark_acme.KEY_TYPES)} at most once, at least one")
        challenge = acme["challenge"]
        if challenge not in bulwark_acme.CHALLENGES:
            self.problem(f"acme.challenge: {describe(challenge)} is not one of {', '.join(bulwark_acme.CHALLENGES)}")
        wildcards = [name for name in names if name.startswith("*.")]
        if wildcards and challenge == "http-01":
            self.problem(f"acme.challenge: {', '.join(wildcards)} is a wildcard, which only dns-01 can prove "
                         "(RFC 8555 section 7.1.3); set challenge: dns-01")
        acme["dane"] = _flag(acme["dane"], f"{self.arg}.acme.dane")
        acme["key_types"] = [k for k in dict.fromkeys(key_types) if k in bulwark_acme.KEY_TYPES]
        return acme

    def _certificates(self, entries: Sequence[Any], names: Sequence[str], acme: bool) -> list[dict[str, Any]]:
        if not entries and not acme:
            self.problem("certificates: at least one {cert, key, chain} entry is needed")
        result = []
        seen_types: dict[str, str] = {}
        for number, raw_entry in enumerate(entries):
            where = f"certificates[{number}]"
            entry = _mapping(raw_entry, f"{self.arg}.{where}", optional=False)
            for field in ("cert", "key", "chain"):
                value = entry.get(field)
                if not is_config_path(value):
                    self.problem(f"{where}.{field}: {describe(value)} {_PATH_RULE}")
            ident = (entry.get("cert"), entry.get("key"), entry.get("chain"))
            info: Mapping[str, Any] = {}
            if self.inspected is not None and all(isinstance(part, str) for part in ident):
                info = self.inspected.get(ident, {})  # type: ignore[arg-type]
            if acme and (self.inspected is None or info.get("errors") or not info):
                # Not there yet (or broken): acme_certificates orders it in this run; until then it is not served.
                if info.get("errors"):
                    self.notes.append(f"{self.label}: {_path_text(entry.get('cert'))} not served yet "
                                      f"({info['errors'][0]}); acme_certificates gets it")
                continue
            for error in info.get("errors", []):
                self.problem(f"{where}: {error}")
            key_type = info.get("key_type", "unknown")
            cert_text = _path_text(entry.get("cert"))
            if key_type in seen_types:
                self.problem(f"{where}: a second {key_type} certificate ({cert_text}, after "
                             f"{seen_types[key_type]}); a server offers one certificate per key type")
            elif key_type != "unknown":
                seen_types[key_type] = cert_text
            cert_names = info.get("names") or []
            if info and not info.get("errors"):
                for name in names:
                    if not any(name_matches(name, pattern) for pattern in cert_names):
                        self.problem(f"{where}.cert {cert_text} does not cover {name} "
                                     f"(its names: {', '.join(cert_names) or 'none'})")
            next_key = entry.get("next_key")
            if next_key is not None and not is_config_path(next_key):
                self.problem(f"{where}.next_key: {describe(next_key)} {_PATH_RULE}")
            result.append({
                "cert": entry.get("cert"), "key": entry.get("key"), "chain": entry.get("chain"),
                "next_key": next_key, "key_type": key_type, "ocsp_uri": info.get("ocsp_uri"),
                "not_after": info.get("not_after"), "rollover_keys": list(entry.get("rollover_keys") or []),
            })
        if self.inspected is not None and "ecdsa" not in seen_types \
                and "rsa" not in self.profile["certificate_types"] and result:
            self.notes.append(f"{self.label}: the {self.profile['name']} profile expects an ECDSA certificate; "
                              "this site has none")
        return result

    def _hsts(self, site: Mapping[str, Any]) -> dict[str, Any]:
        arg = f"{self.arg}.hsts"
        given = {k: v for k, v in _mapping(site.get("hsts"), arg).items() if v is not None}
        hsts = {"max_age": self.profile["hsts_min_age"], **HSTS_DEFAULTS, **given}
        max_age = bulwark_dns.to_int(hsts["max_age"])
        if max_age is None:
            raise _fail(f"{arg}.max_age must be an integer (seconds), got {describe(hsts['max_age'])}")
        hsts["max_age"] = max_age
        for flag in ("include_subdomains", "preload"):
            hsts[flag] = _flag(hsts[flag], f"{arg}.{flag}")
        if max_age < 0:
            self.problem(f"hsts.max_age: {bulwark_messages.format_int(max_age)} is negative")
            hsts["max_age"] = 0
        elif max_age > MAX_HSTS_AGE:
            self.problem(f"hsts.max_age: {bulwark_messages.format_int(max_age)} is more than {MAX_HSTS_AGE}")
            hsts["max_age"] = MAX_HSTS_AGE
        if hsts["preload"]:
            missing = []
            if max_age < PRELOAD_MIN_AGE:
                missing.append(f"hsts.max_age >= {PRELOAD_MIN_AGE} (is {bulwark_messages.format_int(max_age)})")
            if not hsts["include_subdomains"]:
                missing.append("hsts.include_subdomains: true")
            if missing:
                self.problem("hsts.preload: true is refused: the preload list (hstspreload.org) requires "
                             + " and ".join(missing))
        return hsts

    def _content(self, model: Mapping[str, Any]) -> None:
        root, upstream = model["root"], model["upstream"]
        if (root is None) == (upstream is None):
            self.problem("give exactly one of root (a document root) or upstream (a URL to proxy to)")
        if root is not None and not is_config_path(root):
            self.problem(f"root: {describe(root)} {_PATH_RULE}")
        if upstream is not None and not _UPSTREAM_RE.fullmatch(upstream):
            self.problem(f"upstream: {describe(upstream)} is not an http:// or https:// URL (host or [IPv6], "
                         "optional port and path)")

    def _stapling(self, mode: str, certificates: Sequence[Mapping[str, Any]]) -> bool:
        with_uri = [c for c in certificates if c["ocsp_uri"]]
        without = [_path_text(c["cert"]) for c in certificates if not c["ocsp_uri"]]
        if mode == "off":
            self.notes.append(f"{self.label}: OCSP stapling off (ocsp_stapling: off)")
            return False
        if mode == "on" and without:
            self.problem(f"ocsp_stapling: on, but {', '.join(without)} names no OCSP responder (no OCSP URL in "
                         "its Authority Information Access); use auto or off")
            return True
        if not with_uri:
            self.notes.append(f"{self.label}: OCSP stapling off (ocsp_stapling: auto): no certificate names an "
                              "OCSP responder (Let's Encrypt dropped OCSP URLs in 2025); nothing to staple")
            return False
        responders = ", ".join(sorted({str(c["ocsp_uri"]) for c in with_uri}))
        text = f"{self.label}: OCSP stapling on ({mode}), responses verified against the chain; responder {responders}"
        if without:
            text += f"; not stapled (no responder): {', '.join(without)}"
        self.notes.append(text)
        return True


def acme_entries(site_id: str, acme: Mapping[str, Any], acme_dir: str) -> list[dict[str, Any]]:
    """The certificate entries of an ``acme:`` site: acme_certificates' files, one per key type."""
    entries = []
    for key_type in acme.get("key_types") or []:
        paths = bulwark_acme.certificate_paths(acme_dir, site_id, key_type)
        entries.append({"cert": paths["cert"], "key": paths["key"], "chain": paths["chain"],
                        "rollover_keys": list(paths["rollover_keys"])})  # type: ignore[call-overload]
    return entries


def _site_acme(index: int, site: Any) -> tuple[str, dict[str, Any]] | None:
    """(site id, acme with defaults) of a tls_sites entry with ``acme:``, or None; the model checks the rest."""
    if not isinstance(site, Mapping) or site.get("acme") is None:
        return None
    if not isinstance(site["acme"], Mapping) or not isinstance(site.get("name"), str):
        raise AnsibleFilterError(f"tls_sites[{index}]: acme must be a dict and name a string")
    acme = {**ACME_DEFAULTS, **{k: v for k, v in site["acme"].items() if v is not None}}
    if not isinstance(acme["key_types"], list):
        raise AnsibleFilterError(f"tls_sites[{index}].acme.key_types must be a list, got {describe(acme['key_types'])}")
    acme["key_types"] = [k for k in acme["key_types"] if k in bulwark_acme.KEY_TYPES]
    return _file_id(site["name"].lower().rstrip(".")), acme


def tls_site_certificates(sites: Any, acme_dir: str = bulwark_acme.DEFAULT_DIR) -> list[dict[str, str]]:
    """Every ``{cert, key, chain}`` of the sites, for tls_inspect: listed ones, and the acme_certificates files of
    sites with ``acme:`` (those may not exist yet)."""
    result = []
    for index, site in enumerate(_list(sites, "tls_sites")):
        found = _site_acme(index, site)
        if found:
            entries: list[Any] = acme_entries(found[0], found[1], acme_dir)
        else:
            entries = _list(site.get("certificates") if isinstance(site, Mapping) else None,
                            f"tls_sites[{index}].certificates")
        for entry in entries:
            if isinstance(entry, Mapping):
                result.append({k: entry[k] for k in ("cert", "key", "chain") if k in entry})
    return result


def tls_acme_certificates(model: Mapping[str, Any], service: str, test_command: Sequence[str],
                          https_port: int = 443) -> list[dict[str, Any]]:
    """The sites with ``acme:`` as acme_certificates entries: one certificate per key type covering the site's
    name and aliases, in the site's files, reloading ``service`` (tested with ``test_command``); TLSA owners on
    ``https_port`` unless ``dane: false``."""
    if not isinstance(model, Mapping) or not isinstance(model.get("sites"), list):
        raise AnsibleFilterError("tls_acme_certificates: the input must be the site model (tls_site_model's result)")
    entries = []
    for site in model["sites"]:
        acme = site.get("acme")
        if not acme:
            continue
        entries.append({"name": site["id"], "domains": list(site["server_names"]), "key_types": list(acme["key_types"]),
                        "challenge": acme["challenge"], "service": str(service), "test_command": list(test_command),
                        "tlsa": [{"port": int(https_port), "proto": "tcp"}] if acme["dane"] else []})
    return entries


def _inspected_certificates(inspection: Any) -> dict[tuple[str, str, str], Mapping[str, Any]]:
    """tls_inspect's certificate entries by (cert, key, chain); an error naming ``inspection`` if malformed."""
    result = {}
    for index, raw in enumerate(_list(inspection.get("certificates"), "inspection.certificates")):
        entry = _mapping(raw, f"inspection.certificates[{index}]", optional=False)
        ident = (entry.get("cert"), entry.get("key"), entry.get("chain"))
        if not all(isinstance(part, str) for part in ident):
            raise _fail(f"inspection.certificates[{index}] must have cert, key and chain paths (tls_inspect's result)")
        result[ident] = entry
    return result


def tls_site_model(
    sites: Sequence[Mapping[str, Any]] | None,
    profile: str = "intermediate",
    guidelines: Mapping[str, Any] | None = None,
    generator: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    inspection: Mapping[str, Any] | None = None,
    bundle_dir: str = "/etc/ssl/bulwark",
    acme_root: str | None = None,
    acme_dir: str = bulwark_acme.DEFAULT_DIR,
) -> dict[str, Any]:
    """The site model: ``{profile, sites, bundles, acme_root, acme_missing, problems, notes}``.

    A site with ``acme:`` gets acme_certificates' files under ``acme_dir``; those that do not exist or cannot be
    served yet are left out of its certificates (``acme_missing`` counts them over every site), and a site left
    with none is ``pending``: served over HTTP only, until acme_certificates has ordered them.

    ``bundles`` lists the CA bundles (``{path, content}``) the host needs for sites whose stapled
    certificates come from different chain files.

    ``inspection`` is the result of the tls_inspect module on the host (None skips the checks that need it:
    certificate files, key match, expiry, names and OCSP responders).
    """
    if guidelines is None or generator is None:
        raise AnsibleFilterError("tls_site_model: guidelines and generator are required")
    site_list = _list(sites, "tls_sites")
    if inspection is not None:
        inspection = _mapping(inspection, "inspection", optional=False)
    if not is_config_path(bundle_dir):
        raise _fail(f"bundle_dir {describe(bundle_dir)} {_PATH_RULE}")
    acme_root = _optional_str(acme_root, "acme_root")
    openssl_version = (inspection or {}).get("openssl_version")
    effective, notes = effective_profile(profile, guidelines, generator, overrides, openssl_version)
    problems = _profile_problems(effective)
    cipher_errors = _strings((inspection or {}).get("cipher_errors"), "inspection.cipher_errors")
    problems.extend(f"tls_profile_overrides.{error}" for error in cipher_errors)
    inspected = None if inspection is None else _inspected_certificates(inspection)
    model_sites = []
    for index, site in enumerate(site_list):
        checker = _SiteChecker(index, _mapping(site, f"tls_sites[{index}]", optional=False), effective, inspected,
                               bundle_dir, acme_dir)
        model_sites.append(checker.run())
        problems.extend(checker.problems)
        notes.extend(checker.notes)
    owners: dict[str, str] = {}
    for site in model_sites:
        for name in site["server_names"]:
            if name in owners:
                problems.append(f"tls_sites: {_site_name(name)} belongs to two sites ({owners[name]} and "
                                f"{site['name']})")
            owners.setdefault(name, site["name"])
    if acme_root is not None and not is_config_path(acme_root):
        problems.append(f"tls_acme_root: {describe(acme_root)} {_PATH_RULE}")
    chain_texts = {chain: str(entry.get("chain_pem") or "") for (_c, _k, chain), entry in (inspected or {}).items()}
    bundles = []
    for site in model_sites:
        if site["trusted_chain"] and len(site["chains"]) > 1:
            texts = [chain_texts.get(chain, "") for chain in site["chains"]]
            try:
                content = tls_pem_bundle(texts)
            except AnsibleFilterError as exc:
                content = ""
                if "no PEM certificate" not in str(exc):
                    problems.append(f"tls_sites ({site['name']}): the chains cannot be bundled: {exc}")
            bundles.append({"path": site["trusted_chain"], "content": content})
    return {"profile": effective, "sites": model_sites, "bundles": bundles, "acme_root": acme_root,
            "acme_missing": sum(site["acme_missing"] for site in model_sites), "problems": problems, "notes": notes}


def tls_pem_bundle(texts: Any) -> str:
    """The certificates of ``texts`` (PEM), each once, in first-seen order, newline-terminated.

    ``texts`` is a list of PEM texts, or one PEM text. Each certificate is re-encoded from its DER
    (RFC 7468, 64-character lines), so the same certificate is written once whatever its line breaks.
    Only CERTIFICATE blocks are taken: a key in the input never reaches the bundle. A text over 1 MiB,
    an unclosed CERTIFICATE block or one whose body is not base64 DER is refused, naming the text.
    """
    if isinstance(texts, (str, bytes, bytearray)):
        texts = [texts]
    if not isinstance(texts, (list, tuple)):
        raise AnsibleFilterError(f"tls_pem_bundle: texts must be a list of PEM texts (or one), got {describe(texts)}")
    blocks: list[str] = []
    for index, text in enumerate(texts):
        try:
            if isinstance(text, (bytes, bytearray)):
                bulwark_pem.check_size(text)
                text = bytes(text).decode("ascii", "replace")
            if not isinstance(text, str):
                raise AnsibleFilterError(f"tls_pem_bundle: texts[{index}] must be a PEM string, got {describe(text)}")
            found = bulwark_pem.certificate_blocks(text)
        except bulwark_pem.PemError as exc:
            raise AnsibleFilterError(f"tls_pem_bundle: texts[{index}]: {exc}") from None
        blocks.extend(block for block in found if block not in blocks)
    if not blocks:
        raise AnsibleFilterError("tls_pem_bundle: texts hold no PEM certificate (no CERTIFICATE block)")
    return "\n".join(blocks) + "\n"


# The local fact the server roles publish (/etc/ansible/facts.d/bulwark_tls.fact, ansible_local.bulwark_tls).
# Bump FACT_SCHEMA on an incompatible change; readers check it (roles/shared/library/tls_public_keys.py).
FACT_SCHEMA = 1
FACT_FILE = "/etc/ansible/facts.d/bulwark_tls.fact"


def tls_published_fact(model: Mapping[str, Any], server: str, https_port: int = 443,
                       http_port: int = 80) -> dict[str, Any]:
    """What the host serves, for other roles: ``{schema, server, acme_root, sites}``.

    Each site: ``name``, ``names`` (name and aliases), ``port`` and ``proto`` (the TLS service), ``http_port``
    (the redirect and ACME http-01) and ``certificates`` with the ``cert``, ``key``, ``chain`` and ``next_key``
    paths and the ``key_type``. Only stable data: a certificate renewal does not change the fact.
    """
    if not isinstance(model, Mapping) or not isinstance(model.get("sites"), list):
        raise AnsibleFilterError("tls_published_fact: the input must be the site model (tls_site_model's result)")
    sites = []
    for site in model["sites"]:
        sites.append({
            "name": site["name"],
            "names": list(site["server_names"]),
            "port": int(https_port),
            "proto": "tcp",
            "http_port": int(http_port),
            "certificates": [{"cert": c["cert"], "key": c["key"], "chain": c["chain"], "next_key": c.get("next_key"),
                              "key_type": c["key_type"], **({"rollover_keys": c["rollover_keys"]}
                                                            if c.get("rollover_keys") else {})}
                             for c in site["certificates"]],
        })
    return {"schema": FACT_SCHEMA, "server": str(server), "acme_root": model.get("acme_root"), "sites": sites}


def _site_path(pattern: str, argument: str, site_id: str) -> str:
    if not isinstance(pattern, str) or pattern.count("{id}") != 1 or not is_config_path(pattern.replace("{id}", "x")):
        raise AnsibleFilterError(f"tls_server_config: {argument} must be an absolute path with one '{{id}}' in it, "
                                 f"got {describe(pattern)}")
    return pattern.replace("{id}", site_id)


def tls_server_config(
    model: Mapping[str, Any],
    site_contents: Sequence[str] | None,
    site_file: str,
    site_link: str = "",
    files: Sequence[Mapping[str, Any]] = (),
    links: Sequence[Mapping[str, str]] = (),
    absent: Sequence[str] = (),
    directories: Sequence[str] = (),
    fact_file: str = FACT_FILE,
    server: str = "",
) -> dict[str, list[Any]]:
    """The arguments of the one config_apply call of nginx_tls and apache_tls.

    ``site_contents`` are the rendered site files, in the order of ``model.sites`` (None: the layout only,
    without the sites' files, for the arguments that need no rendering); ``site_file`` is where each goes
    (``{id}`` is replaced by the site's id) and ``site_link``, when not empty, where a link to it goes (as
    a2ensite makes it: relative). ``files``, ``links``, ``absent`` and ``directories`` are the server's own.
    Added here for both servers: the sites' files and links, the CA bundles, the ACME challenge directory and
    the published fact; ``exclusive`` globs make sites dropped from tls_sites lose their file and link.
    """
    if not isinstance(model, Mapping) or not isinstance(model.get("sites"), list):
        raise AnsibleFilterError("tls_server_config: the input must be the site model (tls_site_model's result)")
    sites = model["sites"]
    if site_contents is not None and (not isinstance(site_contents, Sequence) or isinstance(site_contents, str)
                                      or len(site_contents) != len(sites)):
        raise AnsibleFilterError(f"tls_server_config: site_contents must list one rendered file per site "
                                 f"({len(sites)}), got {type(site_contents).__name__}")
    result_files = [dict(entry) for entry in files]
    result_links = [dict(entry) for entry in links]
    exclusive = [_site_path(site_file, "site_file", "*")]
    if site_link:
        exclusive.append(_site_path(site_link, "site_link", "*"))
    for number, site in enumerate(sites):
        path = _site_path(site_file, "site_file", site["id"])
        if site_contents is not None:
            result_files.append({"path": path, "content": str(site_contents[number])})
        if site_link:
            link = _site_path(site_link, "site_link", site["id"])
            result_links.append({"path": link, "src": posixpath.relpath(path, posixpath.dirname(link))})
    bundles = list(model.get("bundles") or [])
    result_files.extend(dict(bundle) for bundle in bundles)
    fact = tls_published_fact(model, server)
    result_files.append({"path": fact_file, "content": json.dumps(fact, indent=2, sort_keys=True) + "\n",
                         "mode": "0644"})
    result_directories = list(directories)
    if model.get("acme_root"):
        result_directories.append(f"{model['acme_root']}/.well-known/acme-challenge")
    result_directories.extend(posixpath.dirname(bundle["path"]) for bundle in bundles)
    result_directories.append(posixpath.dirname(fact_file))
    return {"files": result_files, "links": result_links, "absent": list(absent), "exclusive": exclusive,
            "directories": list(dict.fromkeys(result_directories))}


class FilterModule:
    """Bulwark's TLS site model filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "tls_site_model": tls_site_model,
            "tls_pem_bundle": tls_pem_bundle,
            "tls_server_config": tls_server_config,
            "tls_published_fact": tls_published_fact,
            "tls_site_certificates": tls_site_certificates,
            "tls_acme_certificates": tls_acme_certificates,
        }
