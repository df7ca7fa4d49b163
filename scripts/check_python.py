"""Exit 1 with one line naming the requirement when this Python is outside pyproject.toml's
requires-python (scripts/setup.sh runs it with the interpreter it is about to use, before any
install). Plain Python so that an old interpreter can run it too."""
import re
import sys

text = open(sys.argv[1]).read()
spec = re.search(r'^requires-python\s*=\s*"([^"]+)"', text, re.M).group(1)
have = sys.version_info[:2]
ok = True
for clause in spec.split(","):
    op, version = re.match(r"\s*(>=|<=|<|>|==|!=)\s*([0-9.]+)", clause).groups()
    want = tuple(int(part) for part in version.split(".")[:2])
    ok = ok and {">=": have >= want, "<=": have <= want, "<": have < want, ">": have > want,
                 "==": have == want, "!=": have != want}[op]
if not ok:
    print("[setup] mtlviz needs Python %s (requires-python in pyproject.toml); %s is Python %d.%d. "
          "Run again with PYTHON=/path/to/a/supported/python3 (and remove an old .venv)."
          % (spec, sys.executable, have[0], have[1]), file=sys.stderr)
    sys.exit(1)
