#!/usr/bin/env python3
"""Copies the small default dataset data/photos64/ out of the full photo set.

    python3 scripts/bundle_photos64.py [/work/shared/data/photos]

Takes the first 256 files of train64/ and the first 64 of test64/ (the full set's files are
already in a seeded random order), keeps their names, and writes the matching MANIFEST.tsv rows
and a SOURCES.md that credits only the source photos those crops come from. Deterministic: a
second run rewrites the same bytes.
"""
import os
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data/photos"
DEST = os.path.join(ROOT, "data", "photos64")
SPLITS = [("train64", "train", 256), ("test64", "test", 64)]


def main():
    with open(os.path.join(SOURCE, "MANIFEST.tsv"), encoding="utf-8") as f:
        lines = f.read().splitlines()
    header, rows = lines[0], {line.split("\t")[0]: line for line in lines[1:]}

    kept = []  # (new name, manifest columns)
    for folder, split, count in SPLITS:
        os.makedirs(os.path.join(DEST, split), exist_ok=True)
        names = sorted(n for n in os.listdir(os.path.join(SOURCE, folder)) if n.endswith(".png"))
        for name in names[:count]:
            shutil.copyfile(os.path.join(SOURCE, folder, name), os.path.join(DEST, split, name))
            columns = rows[folder + "/" + name].split("\t")
            columns[0] = split + "/" + name
            kept.append(columns)
    with open(os.path.join(DEST, "MANIFEST.tsv"), "w", encoding="utf-8") as f:
        f.write("\n".join([header] + ["\t".join(c) for c in kept]) + "\n")

    # Crops per source photo and split, for the credits table.
    used = {}
    for columns in kept:
        split = columns[0].split("/")[0]
        counts = used.setdefault(columns[2], {"train": 0, "test": 0})
        counts[split] += 1

    with open(os.path.join(SOURCE, "SOURCES.md"), encoding="utf-8") as f:
        sources = f.read()
    licences = sources[sources.index("## Licences"):sources.index("## Not used")].rstrip()
    table = sources[sources.index("## Source photos"):].splitlines()
    table_rows = [r for r in table if r.startswith("| ") and r[2:3].isdigit()]

    out = []
    out.append("# data/photos64: the bundled default photo set\n")
    out.append(
        "A small subset of the photo crops described in the full set's SOURCES.md (64×64 RGB\n"
        "PNG crops of colour photos that Debian 12 packages ship), bundled so that\n"
        "`msdd-run train` has data out of the box:\n")
    out.append("| folder | files | pixels |\n|---|---|---|")
    for _, split, count in SPLITS:
        out.append("| %s | %d | 64×64 |" % (split, count))
    out.append("")
    out.append(
        "`train/` holds the first %d files of the full set's `train64/` and `test/` the first %d\n"
        "of its `test64/` (the full set's files are in a seeded random order, so these are a\n"
        "random sample), with their names kept. `MANIFEST.tsv` has their rows (file, package,\n"
        "source path, crop box, crop side, scale, resize ratio). `scripts/bundle_photos64.py`\n"
        "regenerates this folder from the full set.\n" % (SPLITS[0][2], SPLITS[1][2]))
    out.append("## How the crops were made\n")
    out.append(
        "Random square crops (seed 20251126, side drawn from [⌈0.25·s⌉, s] for a photo with\n"
        "short side s, position uniform), resized to 64×64 with Pillow's LANCZOS filter, 8-bit\n"
        "RGB, no alpha; crops with a pixel standard deviation below 8/255 were redrawn. Each\n"
        "source photo belongs to one split only, so train and test crops never share a photo.\n")
    out.append(licences + "\n")  # ends with the note on derived works
    out.append("## Source photos used here\n")
    out.append("| # | package | file (installed path) | licence in debian/copyright | upstream licence"
               " note | credit | W×H | split | crops here |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    number = 0
    for row in table_rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        path = cells[2].strip("`")
        if path not in used:
            continue
        number += 1
        split = cells[7]
        cells = [str(number)] + cells[1:8] + [str(used[path][split])]
        out.append("| " + " | ".join(cells) + " |")
    missing = set(used) - {c.split("|")[3].strip().strip("`") for c in table_rows}
    if missing:
        sys.exit("no credits for: " + ", ".join(sorted(missing)))
    out.append("")
    out.append("Source photos: %d; crops: %d." % (number, len(kept)))
    with open(os.path.join(DEST, "SOURCES.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
