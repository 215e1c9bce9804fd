"""Table 2: Ada-CM against SSL methods with ResNet-18 (test accuracy, mean ± std over seeds).

With no options: the `cpu` protocol's grid (FER2013 as the RAF-DB stand-in, 100 and 400
labels, 3 seeds; stored runs are reused), printed beside the paper's numbers.
Example: python experiments/table2.py --protocol smoke
"""

from __future__ import annotations

import argparse

from adacm.cli import run_cli
from adacm.runner import add_grid_args, run_table

METHODS = ["supervised", "fixmatch", "adacm"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_grid_args(parser, METHODS)
    args = parser.parse_args()
    run_cli(lambda: print(run_table(args, "table2", paper_table=2)))


if __name__ == "__main__":
    main()
