"""`python run.py [--stack NAME] [--config ENV] [command]`: a thin shim over `mlcicd.cli`.

`python run.py --help` lists the commands; exit codes: 0 success, 1 error, 2 usage error,
3 a data or quality gate rejected the run.
"""

import sys

from mlcicd.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
