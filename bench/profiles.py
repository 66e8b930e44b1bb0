"""Summarise py-spy's collapsed stacks (`python -m bench --profile DIR` writes them).

    python -m bench.profiles DIR/forwarder-100000-1234.txt [--top 25] [--match app/]

Prints the functions that hold the most samples, inclusive (on the stack at all) and by where
the time is spent (the innermost frame of the project's own code, or of any code).
"""

from __future__ import annotations

import argparse
import collections
from pathlib import Path


def summarise(path: Path, top: int, match: str) -> str:
    """The top functions of one profile, as text."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    leaf: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        for frame in dict.fromkeys(frames):
            inclusive[frame] += count
        leaf[frames[-1]] += count
        mine = [f for f in frames if match in f]
        if mine:
            own[mine[-1]] += count
    lines = [f"{path.name}: {total} samples"]
    for title, counter in (
        ("inclusive", inclusive),
        (f"innermost frame matching {match!r}", own),
        ("innermost frame", leaf),
    ):
        lines.append(f"-- {title}")
        for frame, count in counter.most_common(top):
            lines.append(f"{100 * count / max(total, 1):5.1f}%  {frame}")
    return "\n".join(lines)


def main() -> None:
    """Print the summary of each file given."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--match", default="(app/", help="the project's own frames")
    args = parser.parse_args()
    for path in args.files:
        print(summarise(path, args.top, args.match))


if __name__ == "__main__":
    main()
