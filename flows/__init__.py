"""Prefect flows over memscore_core: thin recipes whose tasks are cached and retried."""
