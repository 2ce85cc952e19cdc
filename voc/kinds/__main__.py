"""``python -m voc.kinds [--markdown | --json]``: the registry, e.g. to regenerate the docs.

``python -m voc.kinds --markdown > docs/source-kinds.md``
"""

from __future__ import annotations

import argparse
import json
import sys

from voc.kinds import KINDS
from voc.kinds.render import format_kinds, kinds_as_json, kinds_markdown


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m voc.kinds", description=__doc__)
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--markdown", action="store_true", help="docs/source-kinds.md")
    output.add_argument("--json", action="store_true", help="as voc sources kinds --json")
    args = parser.parse_args(argv)
    if args.markdown:
        sys.stdout.write(kinds_markdown(KINDS))
    elif args.json:
        print(json.dumps(kinds_as_json(KINDS), ensure_ascii=False, indent=2))
    else:
        sys.stdout.write(format_kinds(KINDS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
