"""Table 2: Ada-CM against SSL methods with ResNet-18 (test accuracy, mean ± std over seeds).

With no options: the `cpu` protocol's grid (FER2013 as the RAF-DB stand-in, 100 and 400
labels, 3 seeds) for every method of the paper's Table 2; stored runs are reused, missing
ones are trained (resumable). The table is printed beside the paper's RAF-DB numbers.
Examples:
  python experiments/table2.py --protocol smoke
  python experiments/table2.py --methods supervised fixmatch adacm --labels 400
  python experiments/table2.py --dataset sfew
"""

from adacm.runner import table_main

METHODS = ["supervised", "pseudo_label", "mixmatch", "uda", "remixmatch", "fixmatch", "adacm"]

if __name__ == "__main__":
    table_main(__doc__, "table2", 2, METHODS)
