"""Print the pip section of environment.yml as a requirements file (CI installs it into a fresh virtualenv to
check that what Binder and conda users get installs and imports)."""
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
env = yaml.safe_load((ROOT / "environment.yml").read_text())
for requirement in next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d):
    print(requirement)
