"""Personal data sealed at rest: ID numbers are stored encrypted, never in the clear.

A sealed value is a Fernet token (``cryptography``: AES-128-CBC with an HMAC-SHA256, a timestamp
and a random IV, so the same number seals differently each time). The keys come from
``LONGTUAN_DATA_KEY``: one key, or several separated by commas while keys are rotated; the first
seals, every one of them opens (``MultiFernet``). ``longtuan keys new`` makes a key and
``longtuan keys rotate`` seals every stored number again with the first.

The embedded first run keeps a key of its own in its data folder (``data.key``, mode 0600), made
on first use, so that ``longtuan serve --demo`` needs no set-up. Anywhere else the key must be
set: whoever loses it loses the stored numbers (the name and the masked number stay readable).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr

from bot.errors import ConfigError

#: The key file of the embedded first run, in its data folder.
KEY_FILE = "data.key"

MISSING = (
    "LONGTUAN_DATA_KEY is not set: it encrypts the volunteers' ID numbers in the database. "
    "Make one with `longtuan keys new` and keep it with the other secrets (without it the stored "
    "numbers cannot be read)"
)


class SealError(Exception):
    """A sealed value that none of the configured keys opens (a wrong key, or a damaged value)."""


def new_key() -> str:
    return Fernet.generate_key().decode()


def parse_keys(value: str) -> list[str]:
    """The keys of a ``LONGTUAN_DATA_KEY`` value; ValueError names a key that is not one."""
    keys = [k.strip() for k in value.split(",") if k.strip()]
    if not keys:
        raise ValueError("must hold at least one key (make one with `longtuan keys new`)")
    for i, key in enumerate(keys, 1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise ValueError(
                f"key {i} is not a data key (44 characters of URL-safe base64; `longtuan keys new` makes one)"
            ) from None
    return keys


class Sealer:
    """Seals and opens values with the configured keys (the first seals)."""

    __slots__ = ("_fernet", "_first", "keys")

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("no data key")
        self.keys = tuple(keys)
        fernets = [Fernet(k) for k in self.keys]
        self._first, self._fernet = fernets[0], MultiFernet(fernets)

    def seal(self, value: str) -> str:
        return self._fernet.encrypt(value.encode()).decode("ascii")

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode()
        except (InvalidToken, UnicodeError) as exc:
            raise SealError("no configured data key opens this value") from exc

    def current(self, sealed: str) -> bool:
        """Whether the first key opens it (nothing for ``longtuan keys rotate`` to do)."""
        try:
            self._first.decrypt(sealed.encode("ascii"))
        except (InvalidToken, UnicodeError):
            return False
        return True

    def reseal(self, sealed: str) -> str:
        """The value sealed again with the first key (``longtuan keys rotate``)."""
        try:
            return self._fernet.rotate(sealed.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError) as exc:
            raise SealError("no configured data key opens this value") from exc


def sealer_for(value: SecretStr | str | None) -> Sealer:
    """The sealer of a ``LONGTUAN_DATA_KEY`` value (``Settings.data_key``); ConfigError when there is none."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if not value:
        raise ConfigError(MISSING)
    return Sealer(parse_keys(value))


def embedded_key(data_dir: str | Path) -> str:
    """The embedded first run's key: read from its data folder, or made there (mode 0600) on first use."""
    folder = Path(data_dir).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / KEY_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    # Written whole under another name, then linked into place: a second process of the first run
    # never reads a half-written key, and of two made at once only the first is kept.
    key = new_key()
    tmp = folder / f".{KEY_FILE}.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    try:
        os.link(tmp, path)
    except FileExistsError:
        return path.read_text().strip()
    finally:
        tmp.unlink()
    return key
