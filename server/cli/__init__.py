"""The `channel-router` command: `main` composes the sub-commands of each area."""
