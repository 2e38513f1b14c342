"""The test oracle for PE identity: what pefile (PyPI) says about each file
named on the command line, one JSON object per line.

  imphash      pefile's get_imphash() ("" when it finds no imports)
  tables       every StringFileInfo string table: key -> {name: value}
  translation  the first VarFileInfo Translation pair as 8 hex digits, or null
  fixed        VS_FIXEDFILEINFO file version [major, minor, build, revision], or null
  error        set instead of the rest when pefile refuses the file
"""
import json
import sys

import pefile


def describe(path):
    try:
        pe = pefile.PE(path)
    except pefile.PEFormatError as e:
        return {"path": path, "error": str(e)}
    tables, translation, fixed = {}, None, None
    for info in getattr(pe, "FileInfo", []):
        for entry in info:
            if entry.Key == b"StringFileInfo":
                for table in entry.StringTable:
                    key = table.LangID.decode()
                    strings = {k.decode(): v.decode() for k, v in table.entries.items()}
                    tables.setdefault(key, strings)
            elif entry.Key == b"VarFileInfo":
                for var in entry.Var:
                    pairs = var.entry.get(b"Translation")
                    if pairs and translation is None:
                        lang, cp = pairs.split()[0:2]
                        translation = "%04x%04x" % (int(lang, 16), int(cp, 16))
    if hasattr(pe, "VS_FIXEDFILEINFO"):
        f = pe.VS_FIXEDFILEINFO[0]
        fixed = [f.FileVersionMS >> 16, f.FileVersionMS & 0xFFFF, f.FileVersionLS >> 16, f.FileVersionLS & 0xFFFF]
    return {"path": path, "imphash": pe.get_imphash(), "tables": tables, "translation": translation, "fixed": fixed}


if __name__ == "__main__":
    for path in sys.argv[1:]:
        print(json.dumps(describe(path)))
