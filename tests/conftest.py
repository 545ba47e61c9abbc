import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # tests never open windows

sys.path.insert(0, str(Path(__file__).parent))  # for seed_reference
