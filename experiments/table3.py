"""Table 3: WRN-28-2 from scratch on the RAF-DB stand-in with 400 / 1,000 / 4,000 labels.

Rows: Baseline, MeanTeacher, MixMatch, MarginMix, Ada-CM. Under the `cpu` protocol the faces
are downsampled to 32 px, the input size WRN-28-2 was designed for (and 2.25× cheaper than 48).
Example: python experiments/table3.py --protocol smoke
"""

from adacm.report.paper_tables import PAPER_TABLES
from adacm.studies.table_script import table_main

if __name__ == "__main__":
    table_main(__doc__, PAPER_TABLES[3])
