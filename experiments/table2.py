"""Table 2: Ada-CM against SSL methods with ResNet-18 (test accuracy, mean ± std over seeds).

With no options: the `cpu` protocol's claim grid (FER2013 as the RAF-DB stand-in; Baseline,
FixMatch and Ada-CM at 100, 400 and 4,000 labels; seeds 0-9, fixed in advance); stored runs
are reused, missing ones are trained (resumable), after the table of what is stored so far and
an estimate of the time, measured here. The table is printed beside the paper's RAF-DB numbers;
`adacm claims --table 2` gives the verdicts. The paper's other rows, at 3 seeds:
  python experiments/table2.py --methods pseudo_label mixmatch uda remixmatch --seeds 0 1 2
Examples:
  python experiments/table2.py --protocol smoke
  python experiments/table2.py --labels 400 --dry-run
  python experiments/table2.py --dataset sfew
"""

from adacm.report.paper_tables import PAPER_TABLES
from adacm.studies.table_script import table_main

if __name__ == "__main__":
    table_main(__doc__, PAPER_TABLES[2])
