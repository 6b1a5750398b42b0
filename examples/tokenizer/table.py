#!/usr/bin/python3
"""Prints the results table (Markdown) from msdd-run eval JSON files and a baseline.py JSON.

    table.py EVAL.json [EVAL2.json ...] [--baseline BASELINE.json] [--title TEXT]
"""
import argparse
import json


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
    for path in args.evals:
        r = json.load(open(path))
        print(f"| {r['model']} | {r['images']} | {r['psnr']:.2f} | {r['ssim']:.3f} | "
              f"{r['img_per_s']:.1f} | {r['nfe']} |")
    if args.baseline:
        b = json.load(open(args.baseline))
        print(f"| classical baseline ({b['method']}, {b['numbers']} numbers) | {b['images']} | "
              f"{b['psnr']:.2f} | {b['ssim']:.3f} | | |")


if __name__ == "__main__":
    main()
