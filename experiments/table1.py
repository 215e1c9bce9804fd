"""Table 1: ablation of thresholds and of Ada-CM's two unlabeled losses (ResNet-18).

Rows: Baseline, FixMatch with fixed thresholds 0.5 / 0.8 / 0.95, FlexMatch, Ada-CM with Lu
only, Lc only, and both. Rows 2–6 differ only in the threshold policy object. Settings as in
the paper: the RAF-DB stand-in (FER2013) with 100 labels and SFEW with 400 labels.
Example: python experiments/table1.py --protocol smoke
"""

from adacm.report.paper_tables import PAPER_TABLES
from adacm.studies.table_script import table_main

if __name__ == "__main__":
    table_main(__doc__, PAPER_TABLES[1])
