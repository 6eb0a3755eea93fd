"""Node classes, one operator family per module.

The user-facing methods live on :class:`streams.Stream`; each builds one of these nodes.
"""
