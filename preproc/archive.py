"""Atomic, resumable writing of an uncompressed (ZIP_STORED) zip archive.

The archive grows as OUT/.FINAL.partial; after every batch of members the file is flushed and a small sidecar
OUT/.FINAL.progress.json records how many members are complete, a fingerprint of the job and the caller's state. The
final name appears only through os.replace() once the central directory is written, so a crash never leaves a
half-written file under the final name. Resuming scans the partial's local headers, checks each member's CRC, keeps
the members the sidecar vouches for, cuts the tail and goes on appending: nothing already written is rewritten.
Members get a fixed date, so an interrupted-and-resumed export is byte-identical to an uninterrupted one.
"""

import contextlib
import json
import os
import struct
import sys
import zipfile
import zlib

import dnnlib

FIXED_DATE = (1980, 1, 1, 0, 0, 0)
_LOCAL_HEADER = struct.Struct('<IHHHHHIIIHH')
_LOCAL_SIGNATURE = 0x04034b50

#----------------------------------------------------------------------------

def member_info(name):
    info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    return info

def _scan_members(f, limit):
    """ZipInfos of the leading complete, CRC-valid stored members of an open partial archive (at most `limit`)."""
    infos, pos = [], 0
    while len(infos) < limit:
        f.seek(pos)
        header = f.read(_LOCAL_HEADER.size)
        if len(header) < _LOCAL_HEADER.size:
            break
        sig, _ver, flags, method, _time, _date, crc, csize, usize, nlen, xlen = _LOCAL_HEADER.unpack(header)
        if sig != _LOCAL_SIGNATURE or method != zipfile.ZIP_STORED or flags & 0x08 or csize != usize:
            break
        name = f.read(nlen).decode('utf-8', errors='replace')
        f.seek(pos + _LOCAL_HEADER.size + nlen + xlen)
        data = f.read(csize)
        if len(data) != csize or zlib.crc32(data) != crc:
            break
        info = member_info(name)
        info.header_offset, info.CRC, info.compress_size, info.file_size = pos, crc, csize, usize
        infos.append(info)
        pos = f.tell()
    return infos, pos

class PartialZip:
    """Context manager writing `final_path` atomically; `state` is the caller's dict saved at the last checkpoint.
    On an exception the partial and its sidecar stay for a later resume=True."""

    def __init__(self, final_path, fingerprint, resume=False, overwrite=False):
        folder, base = os.path.split(os.path.abspath(final_path))
        self.final_path = os.path.join(folder, base)
        self.partial_path = os.path.join(folder, f'.{base}.partial')
        self.sidecar_path = os.path.join(folder, f'.{base}.progress.json')
        self.fingerprint, self.overwrite = fingerprint, overwrite
        if os.path.exists(self.final_path) and not overwrite:
            raise FileExistsError(f'{self.final_path} already exists; pass --overwrite to replace it')
        if os.path.exists(self.partial_path) and not (resume or overwrite):
            raise FileExistsError(f'An interrupted export exists at {self.partial_path}; pass --resume to continue it '
                                  f'or --overwrite to start over')
        progress = self._load_sidecar() if resume and os.path.exists(self.partial_path) else dict(written=0, state={})
        self.file = open(self.partial_path, 'r+b' if progress['written'] else 'w+b')
        infos, end = _scan_members(self.file, progress['written'])
        self.file.truncate(end)
        self.file.seek(end)
        self.zip = zipfile.ZipFile(self.file, 'w') # Writing starts at the current position, after the kept members.
        for info in infos: # Register the kept members the way ZipFile itself does after each write.
            self.zip.filelist.append(info)
            self.zip.NameToInfo[info.filename] = info
        self.written = len(infos)
        self.state = progress['state']
        if resume and progress['written']:
            print(f'Resuming {self.partial_path}: {self.written} of {progress["written"]} checkpointed members are intact')

    def _load_sidecar(self):
        try:
            with open(self.sidecar_path, encoding='utf-8') as f:
                progress = json.load(f)
        except FileNotFoundError:
            return dict(written=0, state={}) # Interrupted before the first checkpoint: start over.
        except (OSError, ValueError) as e:
            raise ValueError(f'Cannot read the progress file {self.sidecar_path} ({e}); pass --overwrite to start over') from e
        if progress.get('fingerprint') != self.fingerprint:
            raise ValueError(f'{self.partial_path} was written from other inputs or options; rerun with the same ones to '
                             f'resume, or pass --overwrite to start over')
        return progress

    def add(self, name, data):
        self.zip.writestr(member_info(name), data)
        self.written += 1

    def checkpoint(self, state):
        """Make the members written so far and `state` (JSON-able) survive a crash of this process."""
        self.file.flush()
        self.state = state
        dnnlib.util.write_json(self.sidecar_path, dict(fingerprint=self.fingerprint, written=self.written, state=state), overwrite=True)

    def finish(self, extra_members):
        """Append {name: bytes} members, write the central directory and move the archive to its final name."""
        for name, data in extra_members.items():
            self.zip.writestr(member_info(name), data)
        self.zip.close()
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        if self.overwrite:
            os.replace(self.partial_path, self.final_path)
        else:
            try:
                dnnlib.util.move_into_place(self.partial_path, self.final_path)
            except FileExistsError:
                raise FileExistsError(f'{self.final_path} appeared while exporting; the result is kept at '
                                      f'{self.partial_path}') from None
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.sidecar_path)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and not self.file.closed:
            with contextlib.suppress(Exception):
                self.zip.close() # A central directory after the members; a resume cuts it off again.
            self.file.close()
            print(f'Export stopped: {self.written} members are kept in {self.partial_path}; run the same command with '
                  f'--resume to continue it.', file=sys.stderr) # stderr: seen even when stdout goes to a pipe
        return False

#----------------------------------------------------------------------------
