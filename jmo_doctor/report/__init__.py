"""Report document, redaction and renderers (text, JSON, Markdown)."""
