"""``python -m takedown`` runs the command line."""

from takedown.cli import main

main()
