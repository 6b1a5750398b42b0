#!/usr/bin/python3
"""Prints the results table (Markdown) from msdd-run eval JSON files and a baseline.py JSON.

    table.py EVAL.json[=LABEL] [EVAL2.json[=LABEL] ...] [--baseline BASELINE.json] [--title TEXT]

A model's label defaults to its artifact's file name.
"""
import argparse
import json
import os


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("evals", nargs="+")
    ap.add_argument("--baseline")
    ap.add_argument("--title")
    args = ap.parse_args()
    if args.title:
        print(f"### {args.title}\n")
    print("| model | images | PSNR (dB) | SSIM | img/s | NFE |")
    print("|---|---:|---:|---:|---:|---:|")
    for spec in args.evals:
        path, _, label = spec.partition("=")
        r = json.load(open(path))
        label = label or os.path.basename(r["artifact"]).removesuffix(".msdd")
        rate = r["throughput"]["median_images_per_second"]
        print(f"| {label} | {r['images']} | {r['psnr']:.2f} | {r['ssim']:.3f} | {rate:.1f} | {r['nfe']} |")
    if args.baseline:
        b = json.load(open(args.baseline))
        print(f"| classical baseline ({b['method']}, {b['numbers']} numbers) | {b['images']} | "
              f"{b['psnr']:.2f} | {b['ssim']:.3f} | | |")


if __name__ == "__main__":
    main()
