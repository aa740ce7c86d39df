"""The `aez-train` command (installed by `pip install ./training`): `aez-train fit INPUT... --out DIR`."""
import argparse
import sys

from . import fit


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(prog="aez-train", description="Trains aez models on your own images.")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("fit", help="train a model on images and export a bundle that `aez -m DIR` uses",
                   add_help=False)
    if not argv or argv[0] in ("-h", "--help"):
        ap.print_help()
        return 0 if argv else 2
    if argv[0] != "fit":
        ap.error(f"unknown command {argv[0]!r} (commands: fit)")
    return fit.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
