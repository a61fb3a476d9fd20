"""A local Maildir read like an IMAP folder, for `suqiu demo` and local delivery.

Maildir has no UIDs, so, as Dovecot does, we keep a list file in the Maildir
that gives every message file a UID once, in order of arrival, under a fixed
UIDVALIDITY. Marking a mail "seen" moves it from new/ to cur/ with the S flag.
"""

import logging
import os
import secrets
import threading
from pathlib import Path

from ingest.source import Fetched, FolderInfo
from ingest.spool import BIG_MAIL, MailFile
from suqiu.config import MailboxSettings
from suqiu.errors import IngestError, MailboxFolderError

log = logging.getLogger(__name__)

UIDLIST = "suqiu-uidlist"


class MaildirMailbox:
    """One Maildir folder: ``path`` itself, or its ``.Folder`` subfolder."""

    def __init__(self, settings: MailboxSettings) -> None:
        if settings.path is None:
            raise IngestError(f"信箱“{settings.name}”没有配置 path")
        self.settings = settings
        self.root = settings.path
        folder = settings.folder
        self.path = self.root if folder == "INBOX" else self.root / f".{folder}"
        self.uidvalidity = 0
        self.uids: dict[str, int] = {}  # file key → UID
        self.keys: dict[int, str] = {}  # UID → file key
        self.files: dict[str, Path] = {}  # file key → where the file is now

    @property
    def name(self) -> str:
        return self.settings.name

    def open(self) -> FolderInfo:
        if not (self.path / "new").is_dir() or not (self.path / "cur").is_dir():
            raise MailboxFolderError(
                f"信箱“{self.name}”的 Maildir 文件夹不存在或不完整：{self.path}"
            )
        self._load_uidlist()
        self.files = {
            entry.name.split(":")[0]: Path(entry.path)
            for sub in ("new", "cur")
            for entry in os.scandir(self.path / sub)
            if entry.is_file()
        }
        self._number_new_files()
        self.keys = {uid: key for key, uid in self.uids.items()}
        return FolderInfo(uidvalidity=self.uidvalidity, exists=len(self.uids))

    def _load_uidlist(self) -> None:
        listing = self.path / UIDLIST
        if not listing.exists():
            self.uidvalidity = secrets.randbelow(2**31 - 1) + 1
            self.uids = {}
            return
        lines = listing.read_text(encoding="utf-8").splitlines()
        self.uidvalidity = int(lines[0].split()[0])
        self.uids = {}
        for line in lines[1:]:
            uid, _, key = line.partition(" ")
            self.uids[key] = int(uid)

    def _number_new_files(self) -> None:
        unknown = [
            (path.stat().st_mtime_ns, key)
            for key, path in self.files.items()
            if key not in self.uids
        ]
        if not unknown and (self.path / UIDLIST).exists():
            return
        next_uid = max(self.uids.values(), default=0) + 1
        for _mtime, key in sorted(unknown):
            self.uids[key] = next_uid
            next_uid += 1
        self._save_uidlist()

    def _save_uidlist(self) -> None:
        lines = [str(self.uidvalidity)]
        lines += [f"{uid} {key}" for key, uid in sorted(self.uids.items(), key=_by_uid)]
        temporary = self.path / f"{UIDLIST}.tmp"
        temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.replace(temporary, self.path / UIDLIST)

    def _file_of(self, uid: int) -> Path | None:
        key = self.keys.get(uid)
        return self.files.get(key) if key is not None else None

    def uids_after(self, last_uid: int) -> list[int]:
        return sorted(uid for uid in self.uids.values() if uid > last_uid)

    def sizes(self, uids: list[int]) -> dict[int, int]:
        sizes: dict[int, int] = {}
        for uid in uids:
            path = self._file_of(uid)
            if path is not None:
                sizes[uid] = path.stat().st_size
        return sizes

    def fetch(self, uids: list[int]) -> list[Fetched]:
        fetched: list[Fetched] = []
        for uid in uids:
            path = self._file_of(uid)
            if path is None:
                log.warning("mailbox %s: UID %s vanished", self.name, uid)
                continue
            big = path.stat().st_size > BIG_MAIL
            raw = MailFile.open(path) if big else path.read_bytes()
            fetched.append(Fetched(uid=uid, raw=raw))
        return fetched

    def mark(self, uids: list[int]) -> None:
        if self.settings.after == "none":
            return
        for uid in uids:
            path = self._file_of(uid)
            if path is None:
                continue
            if self.settings.after == "seen":
                self.files[self.keys[uid]] = self._flag_seen(path)
            else:
                self._move(path, self.settings.move_to or "")
                del self.files[self.keys[uid]]

    def _flag_seen(self, path: Path) -> Path:
        key, _, info = path.name.partition(":")
        flags = set(info[2:]) if info.startswith("2,") else set()
        flags.add("S")
        target = self.path / "cur" / f"{key}:2,{''.join(sorted(flags))}"
        os.replace(path, target)
        return target

    def _move(self, path: Path, folder: str) -> None:
        target_dir = self.root / f".{folder}"
        for sub in ("new", "cur", "tmp"):
            (target_dir / sub).mkdir(parents=True, exist_ok=True)
        os.replace(path, target_dir / "cur" / path.name)

    def supports_idle(self) -> bool:
        return False

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        raise NotImplementedError("a Maildir is polled, never idled on")

    def close(self) -> None:
        return None


def _by_uid(item: tuple[str, int]) -> int:
    return item[1]
