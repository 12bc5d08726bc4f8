"""Lab images built locally: debootstrap a Debian rootfs and `docker import` it; no registry needed.

Every image carries a label with the hash of its recipe; an image whose label matches is not rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

from . import STATE_DIR
from .errors import StepError
from .host import free_gib
from .shell import run, say

MIRROR = os.environ.get("BULWARK_DEBIAN_MIRROR", "http://deb.debian.org/debian")
SUITES = {"13": "trixie", "12": "bookworm"}
BASE_PACKAGES = ("python3", "systemd", "systemd-sysv", "dbus", "iproute2", "ca-certificates", "openssh-server")
# The scanner probes the lab from outside its targets, with independent tools only.
# It also carries the lab's fixture services (installed, disabled at boot; the fixture playbooks start
# them): Unbound as the lab's validating resolver, Pebble as the lab's ACME CAs, Postfix as the
# independent sender MTA (and for posttls-finger), and python3-cryptography for the lab's CT log.
SCANNER_PACKAGES = (
    "curl", "openssl", "nmap", "testssl.sh", "ldnsutils", "gnutls-bin", "bind9-dnsutils", "knot-dnsutils",
    "knot-dnssecutils", "python3-dnspython", "python3-cryptography", "dnsviz", "unbound", "dns-root-data",
    "postfix", "swaks", "pebble",
)
# Services of the packages above that must not start on their own in a scanner or fixture host.
SCANNER_DISABLED_SERVICES = ("unbound", "postfix", "pebble")
MIN_FREE_GIB = 3.0
LABEL = "bulwark.recipe"

# Steps run inside the fresh rootfs. Each container then gets its own machine-id at boot.
ROOTFS_FIXUPS = """
set -e
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id
printf 'PermitRootLogin prohibit-password\\nPasswordAuthentication no\\nUseDNS no\\n' \\
    > /etc/ssh/sshd_config.d/bulwark-lab.conf
systemctl enable ssh.service >/dev/null 2>&1 || true
rm -rf /var/cache/apt/archives/*.deb /var/lib/apt/lists/*
"""


@dataclass(frozen=True)
class Image:
    name: str
    recipe: str

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.recipe.encode()).hexdigest()[:16]


def base_image(version: str) -> Image:
    suite = SUITES[version]
    recipe = json.dumps([suite, MIRROR, BASE_PACKAGES, ROOTFS_FIXUPS])
    return Image(f"bulwark/debian:{version}", recipe)


def scanner_image() -> Image:
    base = base_image("13")
    return Image("bulwark/scanner:13", json.dumps([base.digest, SCANNER_PACKAGES, SCANNER_DISABLED_SERVICES]))


def image_name(version: str, kind: str) -> str:
    if kind == "scanner":
        return scanner_image().name
    return base_image(version).name


def _current_digest(name: str) -> str | None:
    proc = subprocess.run(["docker", "image", "inspect", "--format", f'{{{{index .Config.Labels "{LABEL}"}}}}',
                           name], capture_output=True, text=True, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def _check_disk(step: str) -> None:
    for path in (tempfile.gettempdir(), "/var/lib/docker" if os.path.isdir("/var/lib/docker") else "/"):
        if free_gib(path) < MIN_FREE_GIB:
            raise StepError(step, f"only {free_gib(path):.1f} GiB free on {path}; "
                                  f"building lab images needs {MIN_FREE_GIB:.0f} GiB")


def _build_base(version: str, image: Image) -> None:
    step = f"image {image.name}"
    if shutil.which("debootstrap") is None:
        raise StepError(step, "debootstrap is not installed (run `./bulwark setup`)")
    _check_disk(step)
    suite = SUITES[version]
    build_root = tempfile.mkdtemp(prefix=f"bulwark-rootfs-{suite}-")
    try:
        say(f"debootstrapping Debian {version} ({suite}) for {image.name}, about a minute")
        run(step, ["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}",
                   suite, build_root, MIRROR], timeout=1800)
        run(step, ["chroot", build_root, "/bin/sh", "-c", ROOTFS_FIXUPS])
        tar = subprocess.Popen(["tar", "-C", build_root, "-c", "."], stdout=subprocess.PIPE)
        imp = subprocess.run(["docker", "import", "--change", f"LABEL {LABEL}={image.digest}",
                              "--change", 'CMD ["/lib/systemd/systemd"]', "-", image.name],
                             stdin=tar.stdout, capture_output=True, text=True, check=False)
        tar.wait()
        if tar.returncode != 0 or imp.returncode != 0:
            raise StepError(step, f"docker import failed: {imp.stderr.strip()}")
    finally:
        subprocess.run(["rm", "-rf", "--one-file-system", build_root], check=False)


def _build_scanner(image: Image) -> None:
    step = f"image {image.name}"
    _check_disk(step)
    context = STATE_DIR / "scanner-build"
    context.mkdir(parents=True, exist_ok=True)
    (context / "Dockerfile").write_text(
        f"FROM {base_image('13').name}\n"
        # Postfix "No configuration": installed for posttls-finger and the sender fixture, not running.
        "RUN echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections"
        " && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
        f"--no-install-recommends {' '.join(SCANNER_PACKAGES)} && rm -rf /var/lib/apt/lists/*"
        f" && for s in {' '.join(SCANNER_DISABLED_SERVICES)}; do systemctl disable $s.service 2>/dev/null || true; done\n"
        f"LABEL {LABEL}={image.digest}\n"
        'CMD ["/lib/systemd/systemd"]\n'
    )
    say(f"building {image.name}")
    run(step, ["docker", "build", "-q", "-t", image.name, str(context)], timeout=1200)


def ensure_images(versions: tuple[str, ...] = ("13", "12")) -> None:
    """Build the base images of ``versions`` and the scanner image unless their recipes are unchanged.

    The scanner is built on Debian 13, so that base image is always included.
    """
    for version in sorted(set(versions) | {"13"}, reverse=True):
        image = base_image(version)
        if _current_digest(image.name) != image.digest:
            _build_base(version, image)
    scanner = scanner_image()
    if _current_digest(scanner.name) != scanner.digest:
        _build_scanner(scanner)
