# -*- coding: utf-8 -*-
"""Where acme_certificates keeps a certificate on the host: one definition for the role that writes the files
(acme_host) and the web roles that serve them (tls_common's site model).

Standard library only: modules import this on the managed host, filters on the controller.
"""

from __future__ import annotations

import posixpath

# Key types acme_certificates makes: ECDSA P-256 and RSA 2048.
KEY_TYPES = ("ecdsa", "rsa")
CHALLENGES = ("http-01", "dns-01")
DEFAULT_DIR = "/etc/ssl/acme"


def certificate_paths(directory: str, name: str, key_type: str) -> dict[str, object]:
    """The files of certificate ``name`` of ``key_type`` under ``directory``.

    ``cert`` is the full chain (leaf first) a server serves, ``key`` the link to the served private key,
    ``chain`` the intermediates alone, ``leaf`` the leaf alone, ``ca`` which CA issued it, ``state`` the rollover
    state, and ``rollover_keys`` the public keys of a rollover under way (next, previous), which exist only then.
    """
    base = posixpath.join(directory, name)
    return {
        "dir": base,
        "cert": posixpath.join(base, f"{key_type}.fullchain.crt"),
        "key": posixpath.join(base, f"{key_type}.key"),
        "chain": posixpath.join(base, f"{key_type}.chain.crt"),
        "leaf": posixpath.join(base, f"{key_type}.crt"),
        "ca": posixpath.join(base, f"{key_type}.ca"),
        "state": posixpath.join(base, f"{key_type}.state.json"),
        "rollover_keys": [posixpath.join(base, f"{key_type}.next.pub"), posixpath.join(base, f"{key_type}.previous.pub")],
    }
