#!/usr/bin/env python3
"""The README's settings table lists every key koogate reads (KNOWN_KEYS in
src/settings/mod.rs, except the undocumented outbox and Open API clocks) and no other."""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
source = (ROOT / "src" / "settings" / "mod.rs").read_text()
block = re.search(r"const KNOWN_KEYS: &\[&str\] = &\[(.*?)\];", source, re.S)
if not block:
    sys.exit("cannot find KNOWN_KEYS in src/settings/mod.rs")
# Undocumented tuning keys that tests shorten: not a contract.
TUNING = {"open_api.timeout_ms", "open_api.retry_base_ms", "open_api.poll_ms"}
read = {
    k
    for k in re.findall(r'"([a-z_]+\.[a-z_]+)"', block.group(1))
    if not k.startswith("outbox.") and k not in TUNING
}
readme = (ROOT / "README.md").read_text()
section = readme.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
listed = set(re.findall(r"^\| `([a-z_]+\.[a-z_]+)`", section, re.M))
missing, extra = sorted(read - listed), sorted(listed - read)
for key in missing:
    print(f"README: setting {key} is read by koogate but not in the settings table")
for key in extra:
    print(f"README: the settings table lists {key}, which koogate does not read")
if missing or extra:
    sys.exit(1)
print(f"README settings table: the {len(read)} settings koogate reads")
