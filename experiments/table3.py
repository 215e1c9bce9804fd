"""Table 3: WRN-28-2 from scratch on the RAF-DB stand-in with 400 / 1,000 / 4,000 labels.

Rows: Baseline, MeanTeacher, MixMatch, MarginMix, Ada-CM. Under the `cpu` protocol the faces
are downsampled to 32 px, the input size WRN-28-2 was designed for (and 2.25× cheaper than 48).
Example: python experiments/table3.py --protocol smoke
"""

from adacm.runner import table_main
from adacm.tables import WRN

METHODS = ["supervised", "meanteacher", "mixmatch", "marginmix", "adacm"]

SETTINGS = [("rafdb", 400), ("rafdb", 1000), ("rafdb", 4000)]

if __name__ == "__main__":
    table_main(__doc__, "table3", 3, METHODS, SETTINGS, **WRN)
