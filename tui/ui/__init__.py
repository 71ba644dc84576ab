"""The Textual app: a thin App composing the chat pane, routing panel, timeline and composer."""
