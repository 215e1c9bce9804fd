"""Table 4: cross-dataset generalisation — trained on the RAF-DB stand-in, tested on CK+.

Rows: Baseline, MixMatch, FixMatch, Ada-CM, trained with 100 and 4,000 labels on the
protocol's ResNet-18 (`cpu`: SimCLR-pretrained on the training faces, `paper`: MS-Celeb-1M) and on
WRN-28-2 (from scratch, at Table 3's input size). No checkpoint is kept: every run on the
RAF-DB stand-in evaluates its final EMA model on CK+ when it ends and stores the accuracy
(and Fig. 4's features) with its result, so runs stored by Table 2 or Fig. 4 are reused.
CK+48 holds peak frames only (no neutral): accuracy is over its six basic expressions, the
prediction taken among those six (see adacm/run/crossdata.py); the paper used 636 images with neutral.
Example: python experiments/table4.py --protocol smoke
"""

from adacm.report.paper_tables import PAPER_TABLES
from adacm.studies.table_script import table_main

if __name__ == "__main__":
    table_main(__doc__, PAPER_TABLES[4])
