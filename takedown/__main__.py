"""``python -m takedown`` runs the command line."""

import sys

try:
    from takedown.cli import main
except KeyboardInterrupt:  # SIGINT while importing (a scheduler stopping a crawl it just
    sys.exit(130)          # started): no traceback, the exit status of an interrupt

main()
