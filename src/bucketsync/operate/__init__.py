"""Operating a deployed stack: its status, its logs, its dead letters."""
