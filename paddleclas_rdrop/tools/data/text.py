"""One reader for the text files a user brings (list files, label maps, CSVs): UTF-8 with or without the
byte-order mark that Windows Notepad writes, any line ending; a file in another encoding (GBK from Chinese
Windows tools, UTF-16, Latin-1) is one `DataError` naming the file, the line and the byte, and how to save
it as UTF-8. Paths in messages go through `shown`, so that an invisible character can be seen."""

import codecs
import os

from ...core.errors import DataError

ENCODINGS_TO_NAME = (("gb18030", "GBK/GB18030 (Chinese Windows tools)"), ("cp1252", "Windows-1252/Latin-1"))


def shown(path):
    """`path` as a message shows it: as it is when every character is visible, else as a Python literal
    (`'\\ufeffimages/a.png'`, `'a.png '`)."""
    text = str(path)
    return text if text.isprintable() and text == text.strip() else repr(text)


def not_found(path, what="file", key=None):
    """The words for a missing file: `what` and the path, the config `key` naming it, and for a relative
    path the folder it is relative to (the current one)."""
    where = [key] if key else []
    if not os.path.isabs(str(path)):
        where.append(f"relative to the current folder {shown(os.getcwd())}")
    return f"{what} {shown(path)} not found" + (f" ({'; '.join(where)})" if where else "")


def _encoding_of(data):
    """The name of the first of `ENCODINGS_TO_NAME` that decodes `data`, or None."""
    for encoding, name in ENCODINGS_TO_NAME:
        try:
            data.decode(encoding)
            return name
        except UnicodeDecodeError:
            continue
    return None


def read_text(path, what="file", key=None):
    """The text of the user's file at `path` (`what` it is, and the config `key` naming it, for the
    messages: "list file", "cls_label_path"),
    decoded as UTF-8 with a leading byte-order mark dropped. Raises `DataError` for a missing file, a
    folder, or bytes that are not UTF-8 (naming the line, the byte and the file's likely encoding)."""
    return decode_text(read_bytes(path, what, key), path, what)


def read_bytes(path, what="file", key=None):
    """The bytes of the user's file at `path`, read once; `DataError` for a missing file or a folder (`what`
    and `key` as for `read_text`)."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise DataError(not_found(path, what, key)) from None
    except IsADirectoryError:
        raise DataError(f"{what} {shown(path)} is a folder, not a file") from None
    except OSError as error:
        raise DataError(f"{what} {shown(path)} cannot be read ({error.strerror})") from None


def decode_text(data, path, what="file"):
    """`data`, the bytes of the file at `path`, decoded as `read_text` does (UTF-8, a leading byte-order mark
    dropped); `DataError` naming UTF-16, or the line and the byte that are not UTF-8."""
    rename = f"utf8_{os.path.basename(str(path))}"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise DataError(
            f'{what} {shown(path)} is UTF-16 (Notepad\'s "Unicode"): save it as UTF-8 (Notepad: Save as, '
            f"Encoding UTF-8), or: iconv -f UTF-16 -t UTF-8 {path} > {rename}"
        )
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        encoding = _encoding_of(data)
        source = "GBK" if encoding and encoding.startswith("GBK") else "CP1252"
        raise DataError(
            f"{what} {shown(path)}:{line}: byte 0x{data[error.start]:02x} is not UTF-8"
            + (f" (the file looks like {encoding})" if encoding else "")
            + f": save it as UTF-8 (Notepad: Save as, Encoding UTF-8), or: "
            f"iconv -f {source} -t UTF-8 {path} > {rename}"
        ) from None


def read_lines(path, what="file", key=None):
    """[(line number from 1, line without its ending)] of `read_text`, blank lines included."""
    return list(enumerate(read_text(path, what, key).splitlines(), 1))
