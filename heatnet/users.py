"""The board's users: names, roles and salted scrypt password hashes, in a YAML file.

The file (named by the site file's `dashboard.users_file`) holds no passwords, only
their hashes with the scrypt parameters each was made with, so the cost can be raised
later without invalidating older entries:

    users:
      - name: wang
        role: operator
        scrypt: {n: 16384, r: 8, p: 1, salt: <base64>, hash: <base64>}

Errors: UsersFileError (ValueError) for a file that cannot be read or used, or a name,
role or password that cannot be stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import yaml

from heatnet.config import SiteConfig

Role = Literal["operator", "engineer"]
ROLES: tuple[Role, ...] = ("operator", "engineer")
NAME_PATTERN = re.compile(r"^[\w.@-]{1,64}$")  # \w takes 王工 as well as wang
MIN_PASSWORD = 8
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1  # 16 MiB, tens of ms: OWASP's floor for scrypt
SALT_BYTES = 16
HASH_BYTES = 32


class UsersFileError(ValueError):
    """A users file that cannot be read or written, or an entry that cannot be stored."""


@dataclass(frozen=True, slots=True)
class User:
    """Someone logged in to the board: what they may do follows from the role."""

    name: str
    role: Role

    @property
    def may_write(self) -> bool:
        """Engineers may write set points to PLCs; operators watch and acknowledge."""
        return self.role == "engineer"


@dataclass(frozen=True, slots=True)
class PasswordHash:
    """A salted scrypt hash and the parameters it was made with."""

    n: int
    r: int
    p: int
    salt: bytes = field(repr=False)
    digest: bytes = field(repr=False)

    @classmethod
    def of(
        cls, password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P
    ) -> PasswordHash:
        salt = os.urandom(SALT_BYTES)
        return cls(n, r, p, salt, _scrypt(password, salt, n, r, p, HASH_BYTES))

    def matches(self, password: str) -> bool:
        """Whether the password hashes to this digest (compared in constant time)."""
        given = _scrypt(password, self.salt, self.n, self.r, self.p, len(self.digest))
        return hmac.compare_digest(given, self.digest)

    def as_dict(self) -> dict[str, object]:
        return {
            "n": self.n,
            "r": self.r,
            "p": self.p,
            "salt": base64.b64encode(self.salt).decode(),
            "hash": base64.b64encode(self.digest).decode(),
        }


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, size: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, dklen=size, maxmem=256 * n * r + 2**20
    )


@dataclass(frozen=True, slots=True)
class UserEntry:
    """One line of the users file."""

    name: str
    role: Role
    password: PasswordHash


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise UsersFileError(
            f"user name {name!r}: expected 1-64 letters, digits or . _ @ - (no spaces)"
        )
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UsersFileError(f"a password needs at least {MIN_PASSWORD} characters")
    return password


def _entry(item: Any, where: str) -> UserEntry:
    try:
        name, role, params = item["name"], item["role"], item["scrypt"]
        password = PasswordHash(
            int(params["n"]),
            int(params["r"]),
            int(params["p"]),
            base64.b64decode(params["salt"], validate=True),
            base64.b64decode(params["hash"], validate=True),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise UsersFileError(
            f"{where}: expected name, role and scrypt {{n, r, p, salt, hash}}"
        ) from err
    if role not in ROLES:
        raise UsersFileError(f"{where}: role {role!r}: expected one of {', '.join(ROLES)}")
    return UserEntry(check_name(str(name)), cast(Role, role), password)


class UserStore:
    """The users file, re-read when it changes, so a removed user loses access at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._seen: tuple[int, int] | None = None
        self._entries: dict[str, UserEntry] = {}
        self._decoy = PasswordHash.of("decoy password")

    def entries(self) -> dict[str, UserEntry]:
        """Every user by name; an absent file holds nobody."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return {}
        except OSError as err:
            raise UsersFileError(f"{self.path}: {err.strerror}") from err
        with self._lock:
            if self._seen != (stat.st_mtime_ns, stat.st_size):
                self._entries = self._read()
                self._seen = (stat.st_mtime_ns, stat.st_size)
            return dict(self._entries)

    def _read(self) -> dict[str, UserEntry]:
        try:
            doc = yaml.safe_load(self.path.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
            raise UsersFileError(f"{self.path}: cannot read the users file: {err}") from err
        items = doc.get("users", []) if isinstance(doc, dict) else None
        if not isinstance(items, list):
            raise UsersFileError(f"{self.path}: expected a mapping with a 'users' list")
        found: dict[str, UserEntry] = {}
        for i, item in enumerate(items):
            entry = _entry(item, f"{self.path}: users[{i}]")
            found[entry.name] = entry
        return found

    def user(self, name: str) -> User | None:
        """The user of that name as the file says now, or None."""
        entry = self.entries().get(name)
        return None if entry is None else User(entry.name, entry.role)

    def authenticate(self, name: str, password: str) -> User | None:
        """The user when name and password match; an unknown name costs the same hashing."""
        entry = self.entries().get(name)
        if entry is None:
            self._decoy.matches(password)
            return None
        return User(entry.name, entry.role) if entry.password.matches(password) else None

    def add(self, name: str, role: Role, password: str) -> bool:
        """Add a user, or set an existing one's role and password; True when new."""
        entry = UserEntry(check_name(name), role, PasswordHash.of(check_password(password)))
        entries = self.entries()
        new = name not in entries
        entries[name] = entry
        self._save(entries)
        return new

    def _save(self, entries: dict[str, UserEntry]) -> None:
        """Write the whole file anew, readable by its owner only, replaced in one rename."""
        doc = {
            "users": [
                {"name": e.name, "role": e.role, "scrypt": e.password.as_dict()}
                for e in entries.values()
            ]
        }
        text = "# heatnet board users: salted scrypt hashes only, written by `heatnet users`\n"
        text += yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
        partial = self.path.with_name(self.path.name + ".new")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(partial, self.path)
        except OSError as err:
            raise UsersFileError(
                f"{self.path}: cannot write the users file: {err.strerror}"
            ) from err


def site_users(site: SiteConfig) -> UserStore | None:
    """The users file a site names (relative to the site file), or None when it names none."""
    users_file = site.dashboard.users_file
    return None if users_file is None else UserStore(site.resolve(users_file))
