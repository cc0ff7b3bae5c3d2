"""The embedded default: a local model served with vLLM's protocol (needs the ``local`` extra)."""
