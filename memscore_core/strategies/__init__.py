"""Scoring strategies that scale with what matters rather than with the number of memories.

Every strategy works chunk by chunk over the requests of :mod:`memscore_core.ablation.requests` (each request is a
:func:`~memscore_core.ablation.requests.removal_request`), sent through the engine's one request path:

- :mod:`.hierarchical` removes contiguous groups of memories and refines only groups whose removal moved
  a response above the noise floor; its single-memory leaves are the exact strategy's requests;
- :mod:`.surrogate` fits a sparse linear model per response on random removal masks;
- :mod:`.auto` picks exact, hierarchical or surrogate per chunk from its number of memories;
- :mod:`.noise_floor` measures the floor from null ablations of a content-free filler entry;
- :mod:`.scope` and :mod:`.assemble` are what they share: a chunk's memories and columns, the effect of one
  request, and the result built from every chunk's outcome.
"""
