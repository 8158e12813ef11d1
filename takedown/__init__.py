"""The command-line shell, scheduling and the bundled demo site.

The only package that imports all four layers (crawler, snapshots, diffing, reports).
"""
