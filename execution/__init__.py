"""Campaign execution: the state machine, the campaign store, and the arq jobs that carry a
decision out on the store and the marketplaces (docs/execution.md)."""
