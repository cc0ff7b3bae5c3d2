"""``memscore ui``: a local web dashboard over the store and candidate review in the browser."""
