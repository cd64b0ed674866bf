"""The decisions and actions of each step, one module per step of the state machine.

Handlers parse, call one of these, and return its model. Every step is idempotent: run again with the
same document it finds its own work done and says so.
"""
