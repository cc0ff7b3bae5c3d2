"""memscore bench: strategies side by side against one server, ratios measured in one run."""
